"""A real local HTTP server that speaks the OpenAI Chat Completions protocol, for tests and benches.

Replies are scripted by a queue: each request takes the next `Reply` (status, text or raw body,
stream chunks, delays, a cut after N chunks). Every request is recorded: headers, JSON body, and
how long the server took to handle it.

    with ChatServer() as server:
        server.queue(Reply(text="A boy drinks coffee."), Reply(status=429))
        agent = PromptAgent(base_url=server.url, api_key="test-key", model="m")
        ...
        server.requests[0].json["model"]
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer.

    status: HTTP status. text: the assistant's message (also split into stream chunks). body: a
    raw JSON body (dict/list) or bytes/str sent as is instead of a completion built from `text`.
    chunks: stream deltas (default: `text` split into pieces of a few words). delay: seconds
    before the response starts. chunk_delay: seconds between stream chunks. cut_after: send that
    many content chunks, then drop the connection without a finish reason or [DONE].
    finish_reason: of the last chunk / the choice (None: the service never says it finished).
    headers: extra response headers.
    """

    status: int = 200
    text: str | None = None
    body: Any = None
    chunks: list[str] | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    cut_after: int | None = None
    finish_reason: str | None = "stop"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    json: Any  # the decoded JSON body, or None
    received_at: float  # time.monotonic() when the request was in and handling began
    handled_s: float = 0.0  # from then to the last byte written (latency and delays included)

    @property
    def stream(self) -> bool:
        return bool(isinstance(self.json, dict) and self.json.get("stream"))

    @property
    def system_prompt(self) -> str:
        return self._messages_of("system")[0]["content"]

    @property
    def user_text(self) -> str:
        """The user message's text parts, joined."""
        content = self._messages_of("user")[-1]["content"]
        if isinstance(content, str):
            return content
        return "\n".join(part["text"] for part in content if part.get("type") == "text")

    @property
    def image_urls(self) -> list[str]:
        content = self._messages_of("user")[-1]["content"]
        if isinstance(content, str):
            return []
        return [part["image_url"]["url"] for part in content if part.get("type") == "image_url"]

    def _messages_of(self, role: str) -> list[dict[str, Any]]:
        return [m for m in self.json["messages"] if m["role"] == role]


class ChatServer:
    """Serves POST /v1/chat/completions (JSON, or SSE when "stream": true) and GET /v1/models.

    latency: seconds added to every reply (on top of a reply's own delay). default: the reply when
    the queue is empty (otherwise a 500 that says so). models: ids listed by GET /v1/models.
    """

    def __init__(
        self,
        latency: float = 0.0,
        default: Reply | None = None,
        models: list[str] | None = None,
    ):
        self.latency = latency
        self.default = default
        self.models = list(models) if models is not None else ["test-model"]
        self.requests: list[Recorded] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        # Set on stop: wakes handlers that are sleeping through a scripted delay.
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ChatServer:
        handler = type("Handler", (_Handler,), {"chat_server": self})
        self._httpd = _Server(("127.0.0.1", 0), handler)
        # A short poll interval: stop() waits for serve_forever to notice (0.5 s by default).
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.02,), daemon=True, name="chat-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL for the client: http://127.0.0.1:<port>/v1"""
        if self._httpd is None:
            raise RuntimeError("ChatServer is not running: call start() or use it as a context manager")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    # -- script -------------------------------------------------------------------------------

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def reply(self, text: str, **options: Any) -> None:
        """Shorthand for queue(Reply(text=text, ...))."""
        self.queue(Reply(text=text, **options))

    @property
    def pending(self) -> int:
        """Replies queued but not used yet."""
        with self._lock:
            return len(self._replies)

    def _next_reply(self) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.popleft()
        if self.default is not None:
            return self.default
        return Reply(status=500, body={"error": {"message": "ChatServer: no reply queued"}})

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops first; True when it is stopping."""
        return seconds > 0 and self._stopping.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Do not wait for handlers still sleeping through a delay when the test is over.
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout tests) makes the handler's writes fail; that is expected.
        pass


class _Handler(BaseHTTPRequestHandler):
    chat_server: ChatServer
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, like real services
    # Headers and body go out in separate writes; with Nagle's algorithm the body would wait for
    # the client's delayed ACK (~40 ms on Linux), which is no part of what we measure.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        started = time.monotonic()
        record = self._recorded(started, None)
        if self.path.rstrip("/").endswith("/models"):
            models = [{"id": m, "object": "model", "created": 0, "owned_by": "test"} for m in self.chat_server.models]
            self._send_json(200, {"object": "list", "data": models})
        else:
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
        record.handled_s = time.monotonic() - started

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        # Handling time starts once the request is in: uploading it is the client's cost.
        started = time.monotonic()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = self._recorded(started, body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}"}})
            record.handled_s = time.monotonic() - started
            return

        server = self.chat_server
        reply = server._next_reply()
        if server._sleep(server.latency + reply.delay):
            return
        try:
            if reply.status != 200 or reply.body is not None:
                self._send_body(reply)
            elif isinstance(body, dict) and body.get("stream"):
                self._send_stream(reply, body)
            else:
                self._send_json(200, _completion(reply, body), reply.headers)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            record.handled_s = time.monotonic() - started

    # -- responses ----------------------------------------------------------------------------

    def _recorded(self, started: float, body: Any) -> Recorded:
        record = Recorded(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            json=body,
            received_at=started,
        )
        self.chat_server._record(record)
        return record

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_body(self, reply: Reply) -> None:
        if isinstance(reply.body, (bytes, str)):
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            content_type = "text/plain"
        else:
            payload = reply.body
            if payload is None:
                payload = {"error": {"message": f"scripted error {reply.status}", "code": str(reply.status)}}
            data = json.dumps(payload).encode()
            content_type = "application/json"
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_stream(self, reply: Reply, request: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()

        model = request.get("model", "test-model")
        self._write_event(_chunk(model, {"role": "assistant", "content": ""}))
        pieces = reply.chunks if reply.chunks is not None else _pieces(reply.text or "")
        for index, piece in enumerate(pieces):
            if reply.cut_after is not None and index >= reply.cut_after:
                # Drop the connection mid-body: no finish reason, no [DONE], no final chunk.
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if index and self.chat_server._sleep(reply.chunk_delay):
                return
            self._write_event(_chunk(model, {"content": piece}))
        self._write_event(_chunk(model, {}, finish_reason=reply.finish_reason))
        self._write_chunk(b"data: [DONE]\n\n")
        self._write_chunk(b"")  # the terminating zero-length chunk

    def _write_event(self, payload: dict[str, Any]) -> None:
        self._write_chunk(b"data: " + json.dumps(payload).encode() + b"\n\n")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def _completion(reply: Reply, request: Any) -> dict[str, Any]:
    model = request.get("model", "test-model") if isinstance(request, dict) else "test-model"
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": reply.finish_reason,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


def _chunk(model: str, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


def _pieces(text: str, words: int = 3) -> list[str]:
    """Split into chunks of a few words, spaces kept, as services stream them."""
    tokens = text.split(" ")
    return [
        " ".join(tokens[i : i + words]) + (" " if i + words < len(tokens) else "")
        for i in range(0, len(tokens), words)
    ]
