"""A real uvicorn server running the front door in a thread, for the integration tests.

The server runs in a thread with its own event loop (uvicorn installs no
signal handlers off the main thread) against the real broker, configured as
``skillstream serve`` configures it (``skillstream.frontdoor.server``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI
from frontdoor_builders import PASSWORD, USERNAME
from pydantic import SecretStr

from skillstream.frontdoor import create_app
from skillstream.frontdoor.server import server_config
from skillstream.settings import Settings
from skillstream.topics import create_topics


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningServer:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> until ``stop``."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(server_config(app, "127.0.0.1", self.port))
        self.thread = threading.Thread(target=self.server.run, name="frontdoor", daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the front door did not start (see the log above)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the front door did not start within {timeout_s}s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def with_db(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


def front_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"http_username": USERNAME, "http_password": SecretStr(PASSWORD)}
    )


def start_server(settings: Settings) -> RunningServer:
    asyncio.run(create_topics(settings.kafka, settings.topics))
    running = RunningServer(create_app(front_settings(settings), publish_timeout_s=15))
    running.start()
    return running
