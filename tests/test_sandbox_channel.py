"""The reply channel on a bare pipe: framing, the token, caps, end of file (no worker process at all)."""
from __future__ import annotations

import io
import json
import os

import pytest

from grader.sandbox import WorkerFailure
from grader.sandbox.channel import ChannelClosed, ReplyChannel


@pytest.fixture
def pipe():
    read_fd, write_fd = os.pipe()
    channel = ReplyChannel(read_fd, max_line=1000)
    yield channel, write_fd
    channel.close()
    try:
        os.close(write_fd)
    except OSError:
        pass


def receive(channel: ReplyChannel) -> dict:
    while (message := channel.take()) is None:
        channel.fill(1)
    return message


def line(channel: ReplyChannel, **message) -> bytes:
    return (json.dumps({**message, "token": channel.token}) + "\n").encode()


def test_greeting_carries_the_token(pipe):
    (channel, _), stdin = pipe, io.BytesIO()
    channel.greet(stdin)
    assert json.loads(stdin.getvalue()) == {"token": channel.token} and len(channel.token) == 32


def test_lines_split_across_chunks_and_several_per_chunk(pipe):
    channel, w = pipe
    data = line(channel, id=1) + line(channel, id=2, progress=[1, 3])
    os.write(w, data[:5])
    channel.fill(1)
    assert channel.take() is None
    os.write(w, data[5:])
    assert receive(channel) == {"id": 1} and receive(channel) == {"id": 2, "progress": [1, 3]}
    assert channel.take() is None


@pytest.mark.parametrize("raw, why", [
    (b'{"id": 1, "token": "00000000000000000000000000000000"}\n', "forged"),
    (b'{"id": 1}\n', "forged"),
    (b"not json\n", "not a grader reply"),
    (b"[1, 2]\n", "not a grader reply"),
    (b'"' + b"x" * 2000 + b'"\n', "oversized"),   # complete but longer than max_line
    (b"x" * 2000, "oversized"),                   # no end in sight
])
def test_anything_else_breaks_the_protocol(pipe, raw, why):
    channel, w = pipe
    os.write(w, raw)
    with pytest.raises(WorkerFailure, match=why) as caught:
        receive(channel)
    assert caught.value.kind == "protocol"


def test_end_of_file_is_channel_closed(pipe):
    channel, w = pipe
    os.write(w, line(channel, ready=True))
    os.close(w)
    assert receive(channel) == {"ready": True}
    with pytest.raises(ChannelClosed):
        receive(channel)


def test_fill_returns_empty_handed_after_its_timeout(pipe):
    channel, _ = pipe
    channel.fill(0.05)
    assert channel.take() is None
