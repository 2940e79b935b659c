"""What the worker prints: drained on a thread so a print flood never blocks it, only the tail kept."""
from __future__ import annotations

import fcntl
import os
import struct
import termios
import threading
import time
from typing import BinaryIO

SETTLE_S = 0.2   # how long since() waits for output still in the pipe


class OutputTail:
    """Drains a pipe on a thread, keeping only the last `limit` bytes: a print flood costs nothing."""

    def __init__(self, stream: BinaryIO, limit: int):
        self.limit, self.buffer, self.total = limit, bytearray(), 0
        self.fd = stream.fileno()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self.thread.start()

    def _drain(self, stream: BinaryIO) -> None:
        with stream:   # closed here, at end of file: closing it while this thread reads would block
            for chunk in iter(lambda: os.read(self.fd, 65536), b""):
                with self.lock:
                    self.total += len(chunk)
                    self.buffer += chunk
                    if len(self.buffer) > 2 * self.limit:
                        del self.buffer[:-self.limit]

    def mark(self) -> int:
        with self.lock:
            return self.total

    def since(self, mark: int) -> str:
        """What was printed since `mark`, capped to the tail, saying how much was dropped."""
        self._settle()
        with self.lock:
            new = self.total - mark
            kept = bytes(self.buffer[-min(new, self.limit):]) if new > 0 else b""
        text = kept.decode("utf-8", "replace")
        if new > len(kept):
            text = f"[... {new - len(kept):,} earlier bytes of output dropped ...]\n" + text
        return text

    def _settle(self) -> None:
        """Wait, briefly, until the thread has taken everything already written into the pipe."""
        deadline = time.monotonic() + SETTLE_S
        while self.thread.is_alive() and time.monotonic() < deadline:
            try:
                unread = struct.unpack("i", fcntl.ioctl(self.fd, termios.FIONREAD, b"\0" * 4))[0]
            except OSError:
                break
            if unread == 0:
                self.thread.join(0.01)   # the GIL to the thread: it appends the last chunk it read
                break
            time.sleep(0.005)
