"""The dashboard page under load, in headless Chromium: 100 configured brands and
RATE posts per second (3,000 a minute by default) through a real worker on the
embedded broker, the page open; prints what the page costs the browser (script
and layout time per second, DOM nodes, JS heap) and how far behind it runs.
Figures, no asserts.

    python benchmarks/dashboard_browser.py [--rate 50] [--seconds 60]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import Browser  # noqa: E402
from support import WorkerProcess, theme_text  # noqa: E402

from mmstream.kafka.broker import EmbeddedBroker, free_port  # noqa: E402
from mmstream.commands.produce import produce_jsonl  # noqa: E402
from mmstream.settings import Settings  # noqa: E402

BRANDS = 100


def posts(rate: float, seconds: float):
    rng = random.Random(0)
    themes = ["football", "coffee", "luggage", "phone"]
    for i in range(int(rate * seconds)):
        brand = f"brand{rng.randrange(BRANDS):03d}"
        yield json.dumps({"id": f"load-{i}", "created_at": datetime.now(timezone.utc).isoformat(),
                          "text": f"{brand} {theme_text(rng.choice(themes), rng.randrange(125))}"})


def metrics(browser: Browser) -> dict:
    return {m["name"]: m["value"] for m in browser.send("Performance.getMetrics")["metrics"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="posts per second (default 50: 3,000 a minute)")
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker(free_port(), log_path=Path(tmp) / "b.log") as broker:
        settings = Settings.load(broker=broker.url, topic_prefix="load.", app_id="mmstream-load",
                                 web_port=free_port(), data_dir=str(Path(tmp) / "data"))
        brands = Path(tmp) / "brands.toml"
        brands.write_text("".join(f"[brands.brand{b:03d}]\n" for b in range(BRANDS)))
        worker = WorkerProcess(settings, Path(tmp) / "worker.log", {"MMSTREAM_BRANDS_FILE": str(brands)})
        url = f"http://127.0.0.1:{settings.web_port}/"
        while True:
            try:
                urllib.request.urlopen(url + "health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        browser = Browser(Path(tmp) / "chromium")
        try:
            browser.send("Performance.enable")
            browser.goto(url)
            producer = threading.Thread(target=produce_jsonl, daemon=True,
                                        args=(settings, posts(args.rate, args.seconds), settings.topic("posts"),
                                              args.rate))
            producer.start()
            time.sleep(10)
            before, t0 = metrics(browser), time.monotonic()
            producer.join()
            after, t1 = metrics(browser), time.monotonic()
            span = t1 - t0
            newest = browser.eval("document.querySelector('#feed li.mention').dataset.id")
            print(f"{args.rate:g} posts/s for {args.seconds:g} s, {BRANDS} brands; page measured over {span:.0f} s")
            for name in ("ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "TaskDuration"):
                print(f"  {name:<20} {1000 * (after[name] - before[name]) / span:7.1f} ms per second")
            rows = browser.eval("document.querySelectorAll('#feed li').length")
            brand_rows = browser.eval("document.querySelectorAll('#brands tbody tr').length")
            rate = browser.eval("[...document.querySelectorAll('.kpi')].find(k => k.textContent.includes('/ min'))"
                                ".querySelector('.value').textContent")
            print(f"  DOM nodes            {after['Nodes']:7.0f}   (feed rows: {rows}, brand rows: {brand_rows})")
            print(f"  JS heap              {after['JSHeapUsedSize'] / 2**20:7.1f} MB")
            print(f"  newest on the page   {newest} of load-{int(args.rate * args.seconds) - 1}")
            print(f"  mentions / min shown {rate}")
        finally:
            browser.close()
            worker.stop()


if __name__ == "__main__":
    main()
