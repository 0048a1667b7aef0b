"""Settings from the environment (twelve-factor): one place that reads ``os.environ``."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass
class Settings:
    database_url: str = f"sqlite:///{ROOT / 'instance' / 'hotline.db'}"
    timezone: str = "Asia/Shanghai"
    time_limits_file: str | None = None
    # Socket.IO message queue shared by several web/SIP/scheduler processes; None = in-process.
    message_queue: str | None = None
    # Socket.IO's Redis channel: several centers (or test runs) can share one Redis.
    socketio_channel: str = "flask-socketio"
    secret_key: str | None = None
    model_path: str = str(ROOT / "instance" / "model" / "unit-classifier.joblib")
    data_dir: str = str(ROOT / "instance")
    callback_hours: tuple[int, int] = (9, 20)  # 回访 only between 9:00 and 20:00
    demo: bool = True
    demo_tickets: int = 360  # HOTLINE_DEMO_TICKETS: a smaller demo city for quick trials
    # Web security (see the README's security section).
    login_max_failures_user: int = 10  # per username within the window, then 429
    login_max_failures_address: int = 50  # per client address within the window
    login_window_seconds: int = 900
    # Where the login counters live: redis:// shares them between web processes. Default: the
    # message queue's Redis when there is one, else this process's memory.
    ratelimit_storage: str | None = None
    secure_cookies: bool = False  # HOTLINE_SECURE_COOKIES=1 behind a TLS proxy
    proxy_fix: bool = False  # HOTLINE_PROXY_FIX=1: trust one proxy's X-Forwarded-For/-Proto/-Host
    # Origins allowed to open a Socket.IO connection; empty = the request's own host only.
    allowed_origins: tuple[str, ...] = ()

    def ratelimit_storage_uri(self) -> str:
        if self.ratelimit_storage:
            return self.ratelimit_storage
        if self.message_queue and self.message_queue.startswith(("redis://", "rediss://", "unix://")):
            return self.message_queue
        return "memory://"

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        s = cls()
        s.data_dir = env.get("HOTLINE_DATA_DIR", s.data_dir)
        # The embedded database lives in the data folder with the key and the model.
        s.database_url = env.get("DATABASE_URL") or f"sqlite:///{Path(s.data_dir) / 'hotline.db'}"
        s.timezone = env.get("HOTLINE_TZ", s.timezone)
        s.time_limits_file = env.get("HOTLINE_TIME_LIMITS") or None
        s.message_queue = env.get("HOTLINE_MESSAGE_QUEUE") or env.get("REDIS_URL") or None
        s.socketio_channel = env.get("HOTLINE_SOCKETIO_CHANNEL") or s.socketio_channel
        s.secret_key = env.get("HOTLINE_SECRET_KEY") or None
        s.model_path = env.get("HOTLINE_MODEL_PATH", str(Path(s.data_dir) / "model" / "unit-classifier.joblib"))
        if "HOTLINE_CALLBACK_HOURS" in env:
            a, b = env["HOTLINE_CALLBACK_HOURS"].split("-")
            s.callback_hours = (int(a), int(b))
        s.demo = env.get("HOTLINE_DEMO", "1") not in ("0", "false", "no")
        if env.get("HOTLINE_DEMO_TICKETS"):
            s.demo_tickets = max(0, int(env["HOTLINE_DEMO_TICKETS"]))
        for name, attr in (("HOTLINE_LOGIN_MAX_FAILURES_USER", "login_max_failures_user"),
                           ("HOTLINE_LOGIN_MAX_FAILURES_ADDRESS", "login_max_failures_address"),
                           ("HOTLINE_LOGIN_WINDOW_SECONDS", "login_window_seconds")):  # fmt: skip
            if env.get(name):
                setattr(s, attr, int(env[name]))
        s.ratelimit_storage = env.get("HOTLINE_RATELIMIT_STORAGE") or None
        s.secure_cookies = _flag(env.get("HOTLINE_SECURE_COOKIES"))
        s.proxy_fix = _flag(env.get("HOTLINE_PROXY_FIX"))
        s.allowed_origins = tuple(o.strip().rstrip("/") for o in (env.get("HOTLINE_ALLOWED_ORIGINS") or "").split(",")
                                  if o.strip())  # fmt: skip
        return s


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
