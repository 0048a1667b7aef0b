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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        s = cls()
        s.database_url = env.get("DATABASE_URL", s.database_url)
        s.timezone = env.get("HOTLINE_TZ", s.timezone)
        s.time_limits_file = env.get("HOTLINE_TIME_LIMITS") or None
        s.message_queue = env.get("HOTLINE_MESSAGE_QUEUE") or env.get("REDIS_URL") or None
        s.socketio_channel = env.get("HOTLINE_SOCKETIO_CHANNEL") or s.socketio_channel
        s.secret_key = env.get("HOTLINE_SECRET_KEY") or None
        s.data_dir = env.get("HOTLINE_DATA_DIR", s.data_dir)
        s.model_path = env.get("HOTLINE_MODEL_PATH", str(Path(s.data_dir) / "model" / "unit-classifier.joblib"))
        if "HOTLINE_CALLBACK_HOURS" in env:
            a, b = env["HOTLINE_CALLBACK_HOURS"].split("-")
            s.callback_hours = (int(a), int(b))
        s.demo = env.get("HOTLINE_DEMO", "1") not in ("0", "false", "no")
        if env.get("HOTLINE_DEMO_TICKETS"):
            s.demo_tickets = max(0, int(env["HOTLINE_DEMO_TICKETS"]))
        return s
