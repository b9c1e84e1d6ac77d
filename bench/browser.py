"""Headless Chromium from the distribution's packages, driven over the DevTools protocol.

The kiosk page's browser test and ``bench_web`` use it. No browser download
(Playwright's cannot work offline): ``apt-get install chromium`` (``.ci/run``
does). Chromium starts with ``--remote-debugging-port=0`` and prints the port
it took; we attach to its page over a WebSocket (aiohttp) and send DevTools
commands: ``Runtime.evaluate``, ``Page.navigate``, ``Page.captureScreenshot``.

    with Chromium("http://127.0.0.1:8765/") as page:
        page.wait_for("document.readyState === 'complete'")
        n = page.evaluate("1 + 1")
        page.screenshot("kiosk.png")
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome")
_LISTENING = re.compile(r"DevTools listening on (ws://[^\s]+)")


def find_chromium() -> str | None:
    return next((path for name in EXECUTABLES if (path := shutil.which(name))), None)


class BrowserError(RuntimeError):
    pass


class Chromium:
    """One headless browser with one page, at ``url``, ``width`` x ``height`` CSS pixels."""

    def __init__(self, url: str, width: int = 800, height: int = 480, timeout_s: float = 30.0):
        exe = find_chromium()
        if exe is None:
            raise BrowserError(f"no Chromium ({', '.join(EXECUTABLES)}); apt-get install chromium")
        self.profile = tempfile.mkdtemp(prefix="sigpad-chromium-")
        args = [exe, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--remote-debugging-port=0",
                f"--user-data-dir={self.profile}", f"--window-size={width},{height}", url]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")          # Chromium refuses to run as root with its sandbox
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._loop = asyncio.new_event_loop()
        self._ws = None
        try:
            port = self._devtools_port()
            target = self._page_target(port)
            self._thread = threading.Thread(target=self._loop.run_forever, name="cdp", daemon=True)
            self._thread.start()
            self._run(self._connect(target["webSocketDebuggerUrl"]))
            # --window-size includes the window's frame in new headless: set the page's own size
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                      deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    def _devtools_port(self) -> int:
        deadline = time.monotonic() + self.timeout_s
        lines = []
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                break
            lines.append(line)
            m = _LISTENING.search(line)
            if m:
                threading.Thread(target=self.proc.stderr.read, daemon=True).start()   # keep draining
                return int(m.group(1).split(":")[2].split("/")[0])
        raise BrowserError("Chromium did not start its DevTools server: " + "".join(lines)[-2000:])

    def _page_target(self, port: int) -> dict:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as resp:
                pages = [t for t in json.load(resp) if t.get("type") == "page"]
            if pages:
                return pages[0]
            time.sleep(0.1)
        raise BrowserError("Chromium has no page")

    # --- the protocol, on the loop thread ------------------------------------------------------

    def _run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(self.timeout_s + 5)

    async def _connect(self, url: str) -> None:
        import aiohttp
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(url, max_msg_size=64 * 1024 * 1024)
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for msg in self._ws:
            data = json.loads(msg.data)
            future = self._pending.pop(data.get("id"), None)
            if future is not None and not future.done():
                future.set_result(data)

    async def _call(self, method: str, params: dict) -> dict:
        call_id = next(self._ids)
        future = self._loop.create_future()
        self._pending[call_id] = future
        await self._ws.send_str(json.dumps({"id": call_id, "method": method, "params": params}))
        data = await asyncio.wait_for(future, self.timeout_s)
        if "error" in data:
            raise BrowserError(f"{method}: {data['error']}")
        return data["result"]

    # --- what the tests use ----------------------------------------------------------------------

    def call(self, method: str, **params) -> dict:
        return self._run(self._call(method, params))

    def evaluate(self, expression: str, await_promise: bool = False):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                           awaitPromise=await_promise)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout_s: float = 20.0, interval_s: float = 0.05):
        """Until ``expression`` is truthy in the page (an error counts as not yet: the page
        may still be loading); returns its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                value = self.evaluate(expression)
            except BrowserError as exc:
                value, error = None, exc
            else:
                error = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for: {expression}" + (f" ({error})" if error else ""))
            time.sleep(interval_s)

    def navigate(self, url: str) -> None:
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def screenshot(self, path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self) -> None:
        if self._ws is not None:
            async def shut():
                self._reader.cancel()
                await self._ws.close()
                await self._session.close()
            try:
                self._run(shut())
            except Exception:
                pass
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
