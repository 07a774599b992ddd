"""Screenshots of the dashboard during `mmstream demo --serve`, for the README.

Runs the demo, waits until its history is scored and topics are mined, then
opens the page in headless Chromium (Debian's `chromium`) and writes
docs/dashboard-light.png, docs/dashboard-dark.png and docs/dashboard-filtered.png
(one brand and negative posts only) at 1440 px, docs/dashboard-panels.png (a search for
"flight": share of voice over time, search, top authors, campaigns and copies), docs/dashboard-1024.png
at 1024 px and docs/dashboard-operator.png (the operator view).

Run: python scripts/dashboard_screenshots.py [--wait 90]
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import Browser  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=90.0, help="seconds of demo before the first screenshot")
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(exist_ok=True)
    demo = subprocess.Popen([sys.executable, "-m", "mmstream", "demo", "--serve", "--port", "0",
                             "--for", str(args.wait + 120)], stdout=subprocess.PIPE, text=True)
    try:
        url = None
        for line in demo.stdout:
            print(line, end="", flush=True)
            found = re.search(r"dashboard\s+(http://\S+)", line)
            if found:
                url = found.group(1)
                break
        if url is None:
            print("the demo printed no dashboard URL", file=sys.stderr)
            return 1
        time.sleep(args.wait)
        with tempfile.TemporaryDirectory() as tmp:
            browser = Browser(Path(tmp) / "profile", width=1440, height=900)
            try:
                browser.goto(url)
                browser.wait_for("document.querySelectorAll('#feed li.mention').length > 20", 60)
                browser.wait_for("document.querySelectorAll('#topics li[data-topic]').length > 2", 60)
                time.sleep(3)
                browser.screenshot(out / "dashboard-light.png", full_page=True)
                browser.dark(True)
                time.sleep(2)
                browser.screenshot(out / "dashboard-dark.png", full_page=True)
                browser.dark(False)
                browser.eval("document.querySelector('#brands tbody tr[data-brand=\"acme\"]').click()")
                browser.wait_for("location.hash.includes('brand=acme')")
                browser.eval("(() => { const s = document.querySelector('#label'); s.value = 'negative'; "
                             "s.dispatchEvent(new Event('change')); })()")
                time.sleep(4)
                browser.screenshot(out / "dashboard-filtered.png")
                browser.goto("about:blank")
                browser.goto(url.rstrip("/") + "/#q=flight")
                browser.wait_for("document.querySelector('#search').dataset.q === 'flight'", 60)
                browser.wait_for("document.querySelectorAll('#chart-sov canvas').length === 1", 30)
                time.sleep(3)
                browser.eval("window.scrollTo(0, document.querySelector('.area-sov').getBoundingClientRect().top + "
                             "scrollY - document.querySelector('.topbar').offsetHeight - 12)")  # below the sticky bar
                time.sleep(1)
                browser.screenshot(out / "dashboard-panels.png")
                browser.send("Emulation.setDeviceMetricsOverride", width=1024, height=900, deviceScaleFactor=1,
                             mobile=False)
                browser.goto("about:blank")
                browser.goto(url)
                browser.wait_for("document.querySelectorAll('#feed li.mention').length > 20", 60)
                time.sleep(3)
                browser.screenshot(out / "dashboard-1024.png", full_page=True)
                browser.goto(url.rstrip("/") + "/operator")
                browser.wait_for("document.querySelector('#ready').textContent !== 'loading…'", 30)
                time.sleep(2)
                browser.screenshot(out / "dashboard-operator.png")
                problems = browser.problems()
            finally:
                browser.close()
        print(f"wrote {out}/dashboard-light.png, dashboard-dark.png, dashboard-filtered.png, dashboard-panels.png (1440 px), "
              "dashboard-1024.png, dashboard-operator.png"
              + (f"; page problems: {problems}" if problems else ""))
        return 0
    finally:
        demo.terminate()
        demo.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
