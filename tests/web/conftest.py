"""Fixtures for the workbenches: a small city on a SQLite file, the Flask app, a live server on a
free port (in a thread), logged-in HTTP sessions and Socket.IO listeners.

The web tests run on SQLite only: what they test is the web layer, and the core's own tests cover
both databases.
"""
from __future__ import annotations

import json
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import requests
import socketio
import websocket
from werkzeug.serving import make_server

from hotline.app import Hotline
from hotline.config import Settings
from tests.core.conftest import PASSWORD, City, make_city

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
LIVE_EVENTS = ("ticket", "ticket_removed", "call_pop", "calls", "call_ended", "operator_state", "callback")


# websocket-client waits up to 3 s for the server's close frame, which the threaded Werkzeug server
# does not send; a test closing dozens of sockets need not wait for it.
_ws_close = websocket.WebSocket.close


def _quick_close(self, status=websocket.STATUS_NORMAL, reason=b"", timeout=0.05):  # noqa: ANN001, ANN202
    return _ws_close(self, status, reason, timeout)


websocket.WebSocket.close = _quick_close


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_settings(db_path: Path, data_dir: Path) -> Settings:
    s = Settings()
    s.database_url = f"sqlite:///{db_path}"
    s.data_dir = str(data_dir)
    s.model_path = str(data_dir / "model.joblib")
    s.secret_key = "web-tests-secret"
    s.message_queue = None
    s.demo = False
    return s


@pytest.fixture
def web_settings(sqlite_template, tmp_path):
    db = tmp_path / "web.db"
    shutil.copy(sqlite_template, db)
    return make_settings(db, tmp_path / "data")


@pytest.fixture
def web_hl(web_settings, clock):
    h = Hotline(web_settings, clock=clock)
    yield h
    h.dispose()


@pytest.fixture
def city(web_hl) -> City:
    return make_city(web_hl)


@pytest.fixture
def app(web_hl, city):
    from web import create_app

    return create_app(web_hl, testing=True, message_queue=None)


@pytest.fixture
def client(app):
    return app.test_client()


class LiveServer:
    """The app served by Werkzeug (threaded, with websockets) on a free loopback port."""

    def __init__(self, app: Any) -> None:
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live(app):
    srv = LiveServer(app)
    yield srv
    srv.stop()


def api_login(base: str, username: str, password: str = PASSWORD) -> requests.Session:
    s = requests.Session()
    r = s.post(f"{base}/api/v1/auth/login", json={"username": username, "password": password}, timeout=10)
    r.raise_for_status()
    s.headers["X-CSRFToken"] = r.json()["csrf_token"]
    return s


class Listener:
    """A python-socketio client that records what it receives."""

    def __init__(self, base: str, session: requests.Session | None = None, *, connect: bool = True) -> None:
        self.base = base
        self.session = session
        self.events: list[tuple[str, dict, float]] = []
        self.cv = threading.Condition()
        self.sio = socketio.Client(reconnection=False)
        for name in LIVE_EVENTS:
            self.sio.on(name, handler=self._recorder(name))
        if connect:
            self.connect()

    def _recorder(self, name: str) -> Callable[[Any], None]:
        def record(data: Any = None) -> None:
            with self.cv:
                self.events.append((name, data, time.perf_counter()))
                self.cv.notify_all()

        return record

    def connect(self) -> None:
        headers = {}
        if self.session is not None:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.session.cookies.items())
        self.sio.connect(self.base, headers=headers, transports=["websocket"], wait_timeout=10)

    def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        return self.sio.call(event, data if data is not None else {}, timeout=timeout)

    def wait_for(self, pred: Callable[[str, dict], bool], timeout: float = 5.0) -> tuple[str, dict, float]:
        deadline = time.monotonic() + timeout
        with self.cv:
            while True:
                for ev in self.events:
                    if pred(ev[0], ev[1]):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching event within {timeout}s; got {[(n, d) for n, d, _ in self.events]}")
                self.cv.wait(left)

    def named(self, name: str) -> list[dict]:
        with self.cv:
            return [d for n, d, _ in self.events if n == name]

    def ticket_ids(self, name: str = "ticket") -> set[int]:
        return {d["ticket_id"] for d in self.named(name)}

    def dump(self) -> str:
        with self.cv:
            return json.dumps([[n, d] for n, d, _ in self.events], ensure_ascii=False)

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture
def listen(live):
    made: list[Listener] = []

    def _listen(username: str | None, password: str = PASSWORD, connect: bool = True) -> Listener:
        session = api_login(live.url, username, password) if username else None
        lst = Listener(live.url, session, connect=connect)
        made.append(lst)
        return lst

    yield _listen
    for lst in made:
        lst.close()
