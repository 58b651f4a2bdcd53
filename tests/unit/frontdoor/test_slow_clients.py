"""Slow clients are dropped within a stated bound while others are answered (issue 11, 4b).

A real uvicorn server (configured as ``skillstream serve`` configures it, with short
deadlines so the test is quick) on a free localhost port, a fake publisher, and raw
sockets that send half a request and stop.
"""

from __future__ import annotations

import base64
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from frontdoor_builders import PASSWORD, USERNAME
from frontdoor_fakes import FakePublisher

from skillstream.frontdoor import create_app
from skillstream.frontdoor.app import BODY_TIMEOUT_S
from skillstream.frontdoor.server import (
    HEADER_TIMEOUT_S,
    KEEP_ALIVE_S,
    MAX_HEAD_BYTES,
    DeadlineH11Protocol,
    server_config,
)
from skillstream.settings import Settings

HEADER_S = 0.6
BODY_S = 0.8
MARGIN_S = 1.5
"""Scheduling slack on a busy machine; the bound asserted is the deadline plus this."""
HALF_HEAD = b"POST /xapi/statements HTTP/1.1\r\nHost: frontdoor\r\nContent-Le"
TOKEN = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()


class Server:
    def __init__(self, settings: Settings) -> None:
        app = create_app(settings, publisher=FakePublisher(), body_timeout_s=BODY_S)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = server_config(app, "127.0.0.1", self.port, header_timeout_s=HEADER_S)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "the server stopped (see the log above)"
            assert time.monotonic() < deadline, "the server did not start within 20s"
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def connect(self, data: bytes = b"") -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        if data:
            sock.sendall(data)
        return sock


@pytest.fixture
def server(front_settings: Settings) -> Iterator[Server]:
    running = Server(front_settings)
    running.start()
    yield running
    running.stop()


def closed_within(socks: list[socket.socket], seconds: float) -> dict[socket.socket, bytes]:
    """Wait until the server closes each socket (EOF or reset), at most ``seconds``; what each
    received. Sockets still open then are left out of the answer."""
    received = dict.fromkeys(socks, b"")
    done: dict[socket.socket, bytes] = {}
    deadline = time.monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        for sock in socks:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        while len(done) < len(socks) and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    chunk = sock.recv(65536)
                except ConnectionResetError:
                    chunk = b""
                if chunk:
                    received[sock] += chunk
                else:
                    done[sock] = received[sock]
                    selector.unregister(sock)
    return done


def test_half_sent_requests_are_closed_and_others_answered(server: Server) -> None:
    socks = [server.connect(HALF_HEAD) for _ in range(200)]
    silent = [server.connect() for _ in range(20)]
    sent = time.monotonic()
    try:
        answer = httpx.get(f"{server.url}/xapi/about", timeout=5)  # served meanwhile
        assert answer.status_code == 200
        assert time.monotonic() - sent < HEADER_S, "the others did not wait for the slow ones"
        closed = closed_within(socks + silent, HEADER_S + MARGIN_S)
        elapsed = time.monotonic() - sent
        assert len(closed) == len(socks) + len(silent), (
            f"{len(socks) + len(silent) - len(closed)} slow connections still open after "
            f"{elapsed:.1f}s (deadline {HEADER_S}s)"
        )
        assert set(closed.values()) == {b""}, "closed without an answer"
        assert httpx.get(f"{server.url}/xapi/about", timeout=5).status_code == 200
    finally:
        for sock in socks + silent:
            sock.close()


def test_a_client_dripping_its_head_is_closed_at_the_deadline(server: Server) -> None:
    sock = server.connect(b"G")
    started = time.monotonic()
    try:
        for byte in b"ET /xapi/about HTTP/1.1\r\nHost: frontdoor\r\nX-Slow: 1":
            if time.monotonic() - started > HEADER_S + MARGIN_S:
                break
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            time.sleep(0.05)
        closed = closed_within([sock], max(HEADER_S + MARGIN_S - (time.monotonic() - started), 0))
        assert sock in closed, "each byte must not restart the deadline"
    finally:
        sock.close()


def test_half_a_request_after_a_keep_alive_answer_is_closed(server: Server) -> None:
    sock = server.connect(b"GET /xapi/about HTTP/1.1\r\nHost: frontdoor\r\n\r\n")
    try:
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /xapi/ab")  # cancels uvicorn's keep-alive timer; ours still runs
        sent = time.monotonic()
        closed = closed_within([sock], HEADER_S + MARGIN_S)
        assert sock in closed
        assert time.monotonic() - sent < KEEP_ALIVE_S, "closed by the head deadline"
    finally:
        sock.close()


def test_a_stalled_body_is_answered_408_and_closed(server: Server) -> None:
    head = (
        "POST /xapi/statements HTTP/1.1\r\nHost: frontdoor\r\n"
        f"Authorization: Basic {TOKEN}\r\nX-Experience-API-Version: 2.0.0\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    sock = server.connect(head.encode() + b'[{"actor": ')
    try:
        closed = closed_within([sock], BODY_S + MARGIN_S)
        assert sock in closed, "a body that never ends holds no connection"
        answer = closed[sock]
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"connection: close" in answer.lower()
        assert b'"code":"body_timeout"' in answer
    finally:
        sock.close()


def test_a_body_nobody_reads_is_dropped_after_the_answer(server: Server) -> None:
    head = (
        "POST /xapi/statements HTTP/1.1\r\nHost: frontdoor\r\nX-Experience-API-Version: "
        "2.0.0\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    sock = server.connect(head.encode() + b"[")  # no credentials: 401 before the body
    try:
        closed = closed_within([sock], HEADER_S + MARGIN_S)
        assert sock in closed
        assert closed[sock].startswith(b"HTTP/1.1 401")
    finally:
        sock.close()


def test_serve_uses_these_deadlines_by_default() -> None:
    config = server_config(object(), "127.0.0.1", 8080)
    assert config.header_timeout_s == HEADER_TIMEOUT_S == 10.0
    assert config.timeout_keep_alive == KEEP_ALIVE_S == 5
    assert config.h11_max_incomplete_event_size == MAX_HEAD_BYTES
    assert config.http is DeadlineH11Protocol
    assert BODY_TIMEOUT_S == 60.0
