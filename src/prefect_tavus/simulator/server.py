"""The HTTP transport: a threaded, keep-alive ``http.server`` in front of :class:`SimulatorApp`.

Clients under test (and the benchmark, at up to ~1,000 requests per second) reuse
connections, so every response is HTTP/1.1 with an exact ``Content-Length``, written in one
piece with Nagle's algorithm off. The server also keeps track of open connections so that
stopping it closes them and their threads end promptly instead of waiting on idle sockets.
"""

from __future__ import annotations

import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prefect_tavus.simulator.app import SimulatorApp
from prefect_tavus.simulator.wire import Request, Response

#: Largest request body accepted (the API only takes small JSON documents).
MAX_BODY_BYTES = 1 << 20

#: Seconds an idle keep-alive connection is kept open.
IDLE_TIMEOUT = 120.0


class _BodyError(Exception):
    """The request body could not be read; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SimulatorRequestHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into :class:`Request` values and writes :class:`Response` values."""

    protocol_version = "HTTP/1.1"
    server_version = "TavusSimulator/0.1"
    sys_version = ""
    disable_nagle_algorithm = True
    wbufsize = -1  # buffer headers and body; BaseHTTPRequestHandler flushes once per request
    timeout = IDLE_TIMEOUT
    server: SimulatorHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as exc:
            self.close_connection = True
            self._write(Response.error(exc.status, exc.message))
            return
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.app.handle(request, self.server.stopping.wait)
        except Exception as exc:
            # The simulator never crashes on what it is sent: anything the handlers did not
            # turn into a 4xx is a simulator bug, answered as a 500 that names it.
            self.close_connection = True
            self._write(
                Response.error(500, f"Tavus simulator internal error: {type(exc).__name__}: {exc}")
            )
            if self.server.verbose:
                self.log_error("internal error serving %s %s: %r", self.command, parts.path, exc)
            return
        if response is None:
            self.close_connection = True  # close without a single byte of response
            return
        self._write(response)

    def _read_body(self) -> bytes:
        encoding = self.headers.get("Transfer-Encoding", "")
        if "chunked" in encoding.lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None or raw_length.strip() == "":
            return b""
        try:
            length = int(raw_length)
        except ValueError:
            raise _BodyError(400, "Invalid Content-Length") from None
        if length < 0:
            raise _BodyError(400, "Invalid Content-Length")
        if length > MAX_BODY_BYTES:
            raise _BodyError(413, "Request body too large")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BodyError(400, "Invalid chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                raise _BodyError(413, "Request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, response: Response) -> None:
        status = response.status
        bodiless = status < 200 or status in (204, 304)
        self.send_response(status)
        if response.content_type and not bodiless:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if not bodiless:
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not bodiless and response.body and self.command != "HEAD":
            self.wfile.write(response.body)


class SimulatorHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` that can close its open connections when stopping.

    Args:
        address: ``(host, port)`` to bind; port 0 picks a free port.
        app: what serves the requests.
        verbose: log one line per request to stderr (``http.server`` style).
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(
        self, address: tuple[str, int], app: SimulatorApp, *, verbose: bool = False
    ) -> None:
        self.app = app
        self.verbose = verbose
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_changed = threading.Condition()
        super().__init__(address, SimulatorRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup of the host; it is not needed.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._connections_changed:
            if self.stopping.is_set():
                self.shutdown_request(request)
                return
            self._connections.add(request)
        self.app.state.record_connection()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_changed:
                self._connections.discard(request)
                self._connections_changed.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (e.g. after its own read timeout during a delay fault) is
        # normal here; anything else is a simulator bug and keeps the stdlib traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection and wait up to ``timeout`` for their threads."""
        with self._connections_changed:
            self.stopping.set()
            for connection in list(self._connections):
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._connections_changed.wait_for(lambda: not self._connections, timeout)


class SimulatorHTTPServerV6(SimulatorHTTPServer):
    """The same server on an IPv6 address (``::1``)."""

    address_family = socket.AF_INET6
