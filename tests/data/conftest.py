"""A fake OpenAI-compatible teacher on 127.0.0.1 (real HTTP), scripted per request, and test images.

`fake_teacher(handler)` starts a server whose `handler(payload, n)` (payload: the request JSON,
n: its 0-based arrival number) returns a `Reply`. Helpers build the usual replies; `smart_handler`
answers like a good teacher, keyed on the image's first pixel so concurrent requests stay
deterministic.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

SECRET_KEY = "sk-or-v1-THIS-KEY-MUST-NEVER-LEAK-0123456789"
TASK_MODEL, PLAN_MODEL = "fake/proposer", "fake/planner"
GOOD_PLAN = ["Navigate(White Table)", "Pick(Apple)", "Navigate(Basket)", "Place(Basket)"]


@dataclass
class Reply:
    status: int = 200
    body: object = None  # dict -> JSON, str -> raw text
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a time-out when above the client's)


def answer(text: str, usage: bool = True) -> Reply:
    """A chat completion whose message content is `text`."""
    body = {
        "id": "x",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }
    if usage:
        body["usage"] = {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}
    return Reply(body=body)


def task_answer(task: str = "Put the apple into the basket") -> Reply:
    return answer(json.dumps({"task": task}))


def plan_answer(plan=GOOD_PLAN, fenced: bool = False) -> Reply:
    text = json.dumps({"reasoning": "The apple is on the white table; bring it to the basket.", "plan": plan})
    return answer(f"Here is the plan:\n```json\n{text}\n```" if fenced else text)


def image_index(payload: dict) -> int:
    """The index a test image encodes in the red channel of its first pixel."""
    url = payload["messages"][0]["content"][0]["image_url"]["url"]
    data = base64.b64decode(url.split(",", 1)[1])
    with Image.open(io.BytesIO(data)) as image:
        return image.convert("RGB").getpixel((0, 0))[0]


def smart_handler(delay: float = 0.0, invalid_every: int = 5):
    """Good answers, except that every `invalid_every`-th image gets a plan that breaks a rule."""

    def handle(payload, n):
        index = image_index(payload)
        if payload["model"] == TASK_MODEL:
            reply = task_answer(f"Put the apple into the basket ({index})")
        elif index % invalid_every == invalid_every - 1:
            reply = plan_answer(["Navigate(White Table)", "Place(Basket)", "Pick(Apple)"])
        else:
            reply = plan_answer()
        reply.delay = delay
        return reply

    return handle


def scripted(replies: list[Reply]):
    """Replies in arrival order (use with concurrency 1)."""

    def handle(payload, n):
        return replies[n] if n < len(replies) else Reply(500, {"error": {"message": "script exhausted"}})

    return handle


class FakeTeacher:
    def __init__(self, handler):
        self.handler = handler
        self.requests: list[dict] = []  # {"payload", "headers"}
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                payload = json.loads(body)
                with fake._lock:
                    n = len(fake.requests)
                    fake.requests.append({"payload": payload, "headers": dict(self.headers), "path": self.path})
                reply = fake.handler(payload, n) if self.path.endswith("/chat/completions") else Reply(404, "not found")
                time.sleep(reply.delay)
                data = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
                data = data.encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client timed out and hung up
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_teacher():
    servers = []

    def start(handler):
        server = FakeTeacher(handler)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def write_test_image(path, index: int, size: int = 32) -> None:
    """A small PNG whose first pixel's red channel is `index` (see image_index)."""
    image = Image.new("RGB", (size, size), (index, 120, 200))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


def write_bomb_png(path, width: int = 100_000, height: int = 100_000) -> None:
    """A tiny PNG file whose header claims width x height pixels (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def write_truncated_png(path, index: int = 7) -> None:
    """A PNG cut in the middle of its pixel data."""
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buffer, format="PNG")
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def fakes():
    """This module's helpers (Reply, answer, scripted, ...): test files cannot import a conftest
    under pytest's importlib mode, so they get it as a fixture."""
    import sys

    return sys.modules[__name__]
