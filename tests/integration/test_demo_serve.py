"""`mmstream demo --serve` as a user runs it: it prints the dashboard's URL, the
dashboard fills in from the looped samples, and Ctrl-C stops it cleanly."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.request


def _snapshot(url: str) -> dict | None:
    """The first snapshot the event stream sends."""
    with urllib.request.urlopen(url + "events?range=1h", timeout=10) as stream:
        block = ""
        for raw in stream:
            line = raw.decode()
            if line == "\n":
                if block.startswith("event: snapshot"):
                    return json.loads(block.split("data: ", 1)[1])
                block = ""
            else:
                block += line
    return None


def test_demo_serve_keeps_the_dashboard_up_until_ctrl_c():
    demo = subprocess.Popen([sys.executable, "-m", "mmstream", "demo", "--serve", "--port", "0", "--rate", "4",
                             "--for", "300"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in demo.stdout:
            found = re.search(r"dashboard\s+(http://127\.0\.0\.1:\d+/)", line)
            if found:
                url = found.group(1)
                break
        assert url, "no dashboard URL printed"
        page = urllib.request.urlopen(url, timeout=10)
        assert page.status == 200 and "Content-Security-Policy" in page.headers
        deadline = time.monotonic() + 180
        snap: dict = {}
        while time.monotonic() < deadline:
            snap = _snapshot(url) or {}
            if snap.get("kpis", {}).get("brand_mentions", 0) > 100 and snap.get("topics"):
                break
            time.sleep(2)
        assert {b["brand"] for b in snap["brands"]} == {"acme", "brewly", "nimbus"}  # samples/brands.toml
        assert snap["kpis"]["brand_mentions"] > 100 and snap["topics"] and snap["chart"]["t"]
        reasons = {r["reason"] for r in snap["dead_letters"]["reasons"]}
        assert reasons == {"missing_created_at", "not_an_image"}  # the samples' two bad posts, every loop
        demo.send_signal(signal.SIGINT)
        assert demo.wait(timeout=60) == 0
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
