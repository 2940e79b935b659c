"""The reply channel: JSON lines from the worker on a pipe of their own, each carrying a secret token.

The grader sends the token as the first line on the worker's stdin, before any student code is imported.
Student code can still find the reply fd (its number is in argv, and /proc/self/fd lists it), so a line
without the token is a forgery. Anything that is not one JSON object per line, or a line longer than
`max_line` bytes, breaks the protocol: WorkerFailure("protocol").
"""
from __future__ import annotations

import json
import os
import secrets
import select
from typing import BinaryIO

from .errors import WorkerFailure

MAX_REPLY_BYTES = 2**20   # genuine replies are a few kB: paths, small lists, error texts
READ_CHUNK = 1 << 20


class ChannelClosed(Exception):
    """The worker closed its end: it exited, or closed the fd."""


class ReplyChannel:
    def __init__(self, read_fd: int, max_line: int = MAX_REPLY_BYTES):
        self.fd, self.max_line = read_fd, max_line
        self.token = secrets.token_hex(16)
        self.buffer = bytearray()
        self.scanned = 0    # no newline in buffer[:scanned]: each byte is searched once

    def greet(self, stdin: BinaryIO) -> None:
        """Send the token: the first line the worker reads."""
        try:
            stdin.write((json.dumps({"token": self.token}) + "\n").encode())
            stdin.flush()
        except OSError:
            pass   # it died already: the first read says so

    def take(self) -> dict | None:
        """The next complete message already received (token checked and removed), or None."""
        end = self.buffer.find(b"\n", self.scanned)
        if end < 0:
            self.scanned = len(self.buffer)
            return None
        line = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        self.scanned = 0
        if len(line) > self.max_line:
            raise WorkerFailure("protocol", "sent an oversized reply")
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            raise WorkerFailure("protocol", "wrote something that is not a grader reply into the grader's "
                                            "reply channel")
        if message.pop("token", None) != self.token:
            raise WorkerFailure("protocol", "sent a forged reply into the grader's reply channel (one the grader's "
                                            "worker did not send); the result is not trusted")
        return message

    def fill(self, timeout_s: float) -> None:
        """Wait up to timeout_s for more bytes. Raises ChannelClosed at end of file."""
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout_s))
        if not ready:
            return
        chunk = os.read(self.fd, READ_CHUNK)
        if not chunk:
            raise ChannelClosed()
        self.buffer += chunk
        if len(self.buffer) > self.max_line and self.buffer.find(b"\n", self.scanned) < 0:
            raise WorkerFailure("protocol", "sent an oversized reply")

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
