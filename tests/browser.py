"""A real headless Chromium driven over the DevTools protocol (CDP), for the
dashboard tests and the screenshot script. Debian's ``chromium`` (``.ci/run``
installs it); the websocket client is aiohttp's, already a dependency.

Everything the page logs, throws or opens as a dialog is recorded in
``events`` (``Runtime.consoleAPICalled``, ``Runtime.exceptionThrown``,
``Page.javascriptDialogOpening``, ``Log.entryAdded``: CSP violations show there).
"""
from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class CdpError(RuntimeError):
    pass


class Browser:
    def __init__(self, profile: Path, width: int = 1440, height: int = 1000) -> None:
        exe = chromium_path()
        if exe is None:
            raise CdpError("no chromium on PATH: apt-get install -y chromium (.ci/run does)")
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "DevToolsActivePort").unlink(missing_ok=True)  # a reused profile's is stale
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--disable-component-update",
             "--mute-audio", "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={profile}",
             f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.events: list[dict] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="cdp", daemon=True)
        self._thread.start()
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future] = {}
        try:
            port = self._port(profile / "DevToolsActivePort")
            targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
            page = next(t for t in targets if t.get("type") == "page")
            self._call(self._connect(page["webSocketDebuggerUrl"]))
        except BaseException:
            self.proc.kill()  # no browser left behind holding the profile
            self.proc.wait()
            self._loop.call_soon_threadsafe(self._loop.stop)
            raise
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)

    def _port(self, marker: Path, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            if self.proc.poll() is not None:
                raise CdpError(f"chromium exited with {self.proc.returncode}")
            time.sleep(0.1)
        raise CdpError("chromium did not open its DevTools port")

    # -- plumbing (the loop runs in its own thread) ---------------------------------------
    def _call(self, coro: Any, timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self, url: str) -> None:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(url, max_msg_size=0)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self._ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self._waiting:
                self._waiting.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def _send(self, method: str, params: dict) -> dict:
        self._next_id += 1
        future = self._loop.create_future()
        self._waiting[self._next_id] = future
        await self._ws.send_str(json.dumps({"id": self._next_id, "method": method, "params": params}))
        return await future

    def send(self, method: str, **params: Any) -> dict:
        reply = self._call(self._send(method, params))
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    # -- what tests use --------------------------------------------------------------------
    def eval(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise CdpError(f"{expression!r} raised: {result['exceptionDetails'].get('text')} "
                           f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20, every: float = 0.05) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {expression}")
            time.sleep(every)

    def goto(self, url: str, timeout: float = 30) -> None:
        self.send("Page.navigate", url=url)
        time.sleep(0.2)
        self.wait_for("document.readyState === 'complete'", timeout)

    def dark(self, on: bool) -> None:
        self.send("Emulation.setEmulatedMedia",
                  features=[{"name": "prefers-color-scheme", "value": "dark" if on else "light"}])

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params["clip"] = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **params)["data"]))

    def problems(self) -> list[dict]:
        """Exceptions, dialogs, console errors and browser log errors (CSP violations among them)."""
        out = []
        for e in self.events:
            method, params = e["method"], e.get("params", {})
            if method in ("Runtime.exceptionThrown", "Page.javascriptDialogOpening"):
                out.append(e)
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append(e)
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                out.append(e)
        return out

    def close(self) -> None:
        try:
            self._call(self._ws.close(), timeout=5)
            self._call(self._session.close(), timeout=5)
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
