"""Local HTTP servers for tests, on ``127.0.0.1`` (port chosen by the OS), each in a daemon thread:

* :func:`serving` -- a WSGI app (Mallow, or anything WSGI) behind werkzeug's threaded server, for
  a real browser or a real HTTP client: ``with serving(app) as base: …`` (``base`` is
  ``http://127.0.0.1:<port>``);
* :class:`LocalFakeServer` -- the kit's fakes of WeChat: hands each request to the fake's
  ``_serve`` (:class:`~mallow.testing.wechatpay.FakeWeChatPayServer`,
  :class:`~mallow.testing.wechat_oauth.FakeWeChatOAuthServer`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_REQUEST_BYTES = 1_048_576


@contextmanager
def serving(app, join_seconds: float = 10) -> Iterator[str]:
    """``app`` served on 127.0.0.1 by werkzeug's threaded server in a daemon thread: yields the
    base URL; shuts the server down (and waits up to ``join_seconds`` for its thread) on exit."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="served-app", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(join_seconds)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    server_version = "FakeWeChat/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- keep test output quiet
        return

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self._write(413, {"Content-Type": "application/json"}, b'{"code":"PARAM_ERROR","message":"body size"}')
            return
        body = self.rfile.read(length) if length else b""
        answer = self.server.fake._serve(method, self.path, self.headers.get("Authorization"), body)
        if answer is None:  # a dropped response: close without a word
            self.close_connection = True
            return
        self._write(*answer)

    def _write(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: LocalFakeServer


class LocalFakeServer:
    """An HTTP fake on ``127.0.0.1`` (port chosen by the OS), served from a daemon thread. A
    subclass answers in :meth:`_serve` with ``(status, headers, body)``, or ``None`` to close the
    connection without a word. Use as a context manager or start()/stop()."""

    thread_name = "local-fake"

    def __init__(self) -> None:
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    def _serve(
        self, method: str, raw_path: str, authorization: str | None, body: bytes
    ) -> tuple[int, dict[str, str], bytes] | None:
        raise NotImplementedError

    def start(self):
        """Bind to 127.0.0.1 on a free port and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        httpd = _HttpServer(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (start the server first)."""
        if self._httpd is None:
            raise RuntimeError("the fake server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"
