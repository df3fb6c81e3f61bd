"""A local stand-in for the Anthropic Messages API, spoken to over HTTP by the real `anthropic` SDK.

Tests script what each POST /v1/messages answers (a tool call, plain text, a refusal, an HTTP error, a reply
slower than the client's timeout) and read back every request body the SDK sent. Nothing leaves 127.0.0.1.

    with AnthropicStandIn(api_key="test-key") as server:
        server.enqueue(status(529), tool_use({...}))
        ClaudeDiffAnalyzer(api_key="test-key", base_url=server.base_url, ...)
        server.requests[0].body["model"]
"""

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOOL_NAME = "report_diff_analysis"

# The error type the real API sends with each status.
_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 503: "api_error", 529: "overloaded_error",
}


# -- scripted behaviours ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Behaviour:
    kind: str                                   # 'message' | 'status' | 'slow'
    content: tuple[dict, ...] = ()
    stop_reason: str | None = None
    status_code: int = 200
    body: dict | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def tool_use(input_dict: dict, name: str = TOOL_NAME) -> Behaviour:
    """A well-formed answer: one tool_use block, stop_reason 'tool_use'."""
    block = {"type": "tool_use", "id": f"toolu_{uuid.uuid4().hex[:24]}", "name": name, "input": input_dict}
    return Behaviour("message", content=(block,), stop_reason="tool_use")


def text(value: str) -> Behaviour:
    """Plain text instead of the tool call (e.g. JSON the model wrote as prose, possibly malformed)."""
    return Behaviour("message", content=({"type": "text", "text": value},), stop_reason="end_turn")


def refusal(partial_input: dict | None = None) -> Behaviour:
    """stop_reason 'refusal'; with `partial_input`, a tool_use block came before the refusal (it is no answer)."""
    content: tuple[dict, ...] = ({"type": "text", "text": ""},)
    if partial_input is not None:
        content = (tool_use(partial_input).content[0],)
    return Behaviour("message", content=content, stop_reason="refusal")


def status(code: int, body: dict | None = None, headers: dict[str, str] | None = None) -> Behaviour:
    """An HTTP error in the API's shape; `body` replaces the default error body."""
    error_type = _ERROR_TYPES.get(code, "api_error")
    default = {"type": "error", "error": {"type": error_type, "message": f"stand-in {code} {error_type}"}}
    return Behaviour("status", status_code=code, body=body or default, headers=dict(headers or {}))


def slow(seconds: float, then: Behaviour | None = None) -> Behaviour:
    """Wait `seconds` (longer than the client's timeout) before answering with `then` (a text reply by default)."""
    follow = then or text("too late")
    return Behaviour("slow", content=follow.content, stop_reason=follow.stop_reason, seconds=seconds)


# -- the server -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]
    raw: str
    body: Any          # parsed JSON, or None if the body was not JSON


class AnthropicStandIn:
    def __init__(self, api_key: str = "test-key"):
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._queue: list[Behaviour] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()   # wakes slow() handlers at shutdown
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting --

    def enqueue(self, *behaviours: Behaviour) -> "AnthropicStandIn":
        with self._lock:
            self._queue.extend(behaviours)
        return self

    def _next(self) -> Behaviour:
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
        # An unscripted call is a test bug: answer in a way no client mistakes for success.
        return status(500, {"type": "error", "error": {"type": "api_error", "message": "stand-in: nothing scripted"}})

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._queue)

    # -- lifecycle --

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use AnthropicStandIn as a context manager"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> "AnthropicStandIn":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        # A short poll interval so shutdown() returns at once rather than after the default 0.5 s.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="anthropic-stand-in", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._closing.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _presented_key(headers: Any) -> str | None:
    """The API key as the client sent it: x-api-key, or 'Authorization: Bearer <key>' (how SDK 2.x sends
    an api_key; the API accepts both)."""
    if headers.get("x-api-key"):
        return headers.get("x-api-key")
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _handler_for(stand_in: AnthropicStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"   # keep-alive like the real API; every reply sets Content-Length

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length).decode("utf-8", errors="replace")
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = None
            stand_in._record(RecordedRequest(self.path, {k.lower(): v for k, v in self.headers.items()}, raw, body))

            if self.path.split("?")[0] != "/v1/messages":
                return self._send(status(404))
            if _presented_key(self.headers) != stand_in.api_key:
                return self._send(status(401, {"type": "error", "error": {
                    "type": "authentication_error", "message": "invalid x-api-key"}}))
            if not self.headers.get("anthropic-version"):
                return self._send(status(400, {"type": "error", "error": {
                    "type": "invalid_request_error", "message": "anthropic-version header is required"}}))
            if not isinstance(body, dict) or "model" not in body or "messages" not in body:
                return self._send(status(400, {"type": "error", "error": {
                    "type": "invalid_request_error", "message": "model and messages are required"}}))

            behaviour = stand_in._next()
            if behaviour.kind == "slow":
                if stand_in._closing.wait(behaviour.seconds):
                    return   # shutting down: the client gave up long ago
                behaviour = Behaviour("message", content=behaviour.content, stop_reason=behaviour.stop_reason)
            self._send(behaviour, model=body["model"])

        def _send(self, behaviour: Behaviour, model: str = "unknown") -> None:
            if behaviour.kind == "status":
                code, payload, headers = behaviour.status_code, behaviour.body, behaviour.headers
            else:
                code, headers = 200, {}
                payload = {
                    "id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant", "model": model,
                    "content": list(behaviour.content), "stop_reason": behaviour.stop_reason,
                    "stop_sequence": None, "usage": {"input_tokens": 100, "output_tokens": 50},
                }
            data = json.dumps(payload).encode()
            try:
                self.send_response(code)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", f"req_{uuid.uuid4().hex[:24]}")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass   # the client timed out and closed the connection

    return Handler
