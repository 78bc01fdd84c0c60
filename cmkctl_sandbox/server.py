"""HTTPS on loopback, one thread per connection, every plane on one port."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from cmkctl_sandbox.dispatcher import Dispatcher
from cmkctl_sandbox.wire import Reply, Request


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a client opening 32 connections at once (a plan at
    # --parallelism 32) overflowed it, and each dropped SYN cost a 1 s retransmission.
    request_queue_size = 256

    def __init__(self, host: str, context: ssl.SSLContext, dispatcher: Dispatcher) -> None:
        super().__init__((host, 0), _Handler)
        self.context = context
        self.dispatcher = dispatcher
        self._connections: set[ssl.SSLSocket] = set()
        self._connections_lock = threading.Lock()

    @property
    def port(self) -> int:
        port: int = self.server_address[1]
        return port

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, in the connection's own thread, so one slow or
        # broken client never holds up accept() for the others.
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self._connections_lock:
            self._connections.add(tls)
        try:
            _Handler(tls, client_address, self)
        finally:
            with self._connections_lock:
                self._connections.discard(tls)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients drop connections all the time (pool shutdown, our own stop); that is not news.
        pass

    def close_connections(self) -> None:
        with self._connections_lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxServer
    # Idle kept-alive connections end after this long, so their threads do not pile up.
    timeout = 60
    # Headers and body go out in separate writes; with Nagle on, each reply waits ~40 ms for an ACK.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._serve()

    do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(parts.path),
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self._body(),
        )
        self._send(self.server.dispatcher.respond(request))

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _chunked_body(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, reply: Reply) -> None:
        if reply.dropped:
            # An injected dropped connection: no status line, no headers, the socket closed.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = reply.encoded()
        self.send_response(reply.status)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
