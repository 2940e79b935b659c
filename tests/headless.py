"""A tiny DevTools-protocol client for Debian's chromium over --remote-debugging-pipe (no websocket, no
downloads): open a local page at a given width, run JavaScript in it, record every network request it makes,
and take full-page screenshots. Used to drive the roster's sort and filter and to look at the figures.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

INSTALL = "apt-get update && apt-get install -y chromium"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> None:
    """Skip without chromium on a user's machine; fail in CI (GRADER_REQUIRE_SYSTEM_DEPS=1)."""
    from conftest import require_system
    require_system(chromium() is not None, "chromium", INSTALL)


def _moved_above(fd: int, low: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, low)
    os.close(fd)
    return moved


class Browser:
    def __init__(self, profile_dir: Path, width: int = 1300, height: int = 900, timeout: float = 60.0):
        binary = chromium()
        assert binary, f"chromium is not installed; install it with `{INSTALL}`"
        self.timeout, self.width, self.height, self.next_id, self.buffer, self.events = timeout, width, height, 0, b"", []
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # chromium's ends move to fds >= 10, so bash's 3<& and 4>& below cannot overwrite one another
        to_chrome_r, from_chrome_w = (_moved_above(fd, 10) for fd in (to_chrome_r, from_chrome_w))
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--hide-scrollbars", f"--user-data-dir={profile_dir}"]
        # chromium reads commands on fd 3 and writes replies on fd 4
        command = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        profile_dir.mkdir(parents=True, exist_ok=True)
        self.log = profile_dir / "chromium.log"   # a file, not a pipe: its dbus chatter could fill a pipe
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["bash", "-c", command, binary, *flags, "about:blank"],
                                         pass_fds=(to_chrome_r, from_chrome_w), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", session=True)
        self.resize(width, height)

    def _read(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.from_chrome], [], [], max(0.0, left))
            chunk = os.read(self.from_chrome, 1 << 20) if ready else b""
            if not chunk:
                raise RuntimeError(f"chromium sent nothing for {self.timeout:.0f} s or exited; its log ends:\n"
                                   + self.log.read_text(errors="replace")[-2000:])
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = False, **params) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        try:
            os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise RuntimeError("chromium exited; its log ends:\n" + self.log.read_text(errors="replace")[-2000:]) from None
        while True:
            reply = self._read()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str) -> dict:
        while True:
            for n, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(n)
            self.events.append(self._read())

    def resize(self, width: int, height: int) -> None:
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def open(self, path: Path) -> None:
        self.events.clear()
        self.call("Page.navigate", session=True, url=path.resolve().as_uri())
        self.wait_event("Page.loadEventFired")

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the first element matching `selector`."""
        x, y = self.js(f"(function(){{var e=document.querySelector({json.dumps(selector)});e.scrollIntoView("
                       "{block:'center'});var r=e.getBoundingClientRect();return [r.left+r.width/2,r.top+r.height/2];})()")
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", session=True, type=kind, x=x, y=y, button="left", clickCount=1)

    def type(self, selector: str, text: str) -> None:
        """Click into the field matching `selector`, select what it holds, and type `text` over it."""
        self.click(selector)
        self.js(f"document.querySelector({json.dumps(selector)}).select()")
        self.call("Input.insertText", session=True, text=text)

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, path: Path, selector: str | None = None) -> Path:
        """The whole page (or the element matching `selector`) at the browser's width, as PNG."""
        if selector:
            box = self.js(f"(function(){{var r=document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                          "return [r.left+scrollX, r.top+scrollY, r.width, r.height];})()")
            clip = dict(zip(("x", "y", "width", "height"), box))
        else:
            size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": self.width, "height": size["height"]}
        shot = self.call("Page.captureScreenshot", session=True, format="png", captureBeyondViewport=True,
                         clip={**clip, "scale": 1})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
