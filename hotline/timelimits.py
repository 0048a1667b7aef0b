"""Time limits (办理时限) per ticket type, urgency and green channel.

Defaults follow DOMAIN.md: units sign within 24 h (critical 2 h); reply in 5 working days (Shandong),
an inquiry in 3, urgent matters in 2, critical ones in 24 hours (Beijing's emergencies: 2 h to sign);
the green channel shortens the reply to 3 working days; a return is allowed within 2 working days of
dispatch; extensions add at most 10 working days in all; callbacks the next working day after closing.
A deployment overrides any of them with a JSON file named by ``HOTLINE_TIME_LIMITS``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from hotline.workcalendar import WorkCalendar

_LIMIT = re.compile(r"^\s*(\d+)\s*(h|wd)\s*$")


@dataclasses.dataclass(frozen=True)
class Limit:
    amount: int
    unit: str  # "h" natural hours | "wd" working days

    @classmethod
    def parse(cls, text: str) -> "Limit":
        m = _LIMIT.match(str(text))
        if not m:
            raise ValueError(f"bad time limit {text!r}: use e.g. '24h' or '5wd'")
        return cls(int(m.group(1)), m.group(2))

    def after(self, start: dt.datetime, calendar: WorkCalendar) -> dt.datetime:
        if self.unit == "h":
            return start + dt.timedelta(hours=self.amount)
        return calendar.add_working_days(start, self.amount)

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


DEFAULTS: dict[str, Any] = {
    "sign": {"normal": "24h", "urgent": "12h", "critical": "2h"},
    "reply": {"normal": "5wd", "urgent": "2wd", "critical": "24h"},
    # Per-type reply limits for normal urgency (a type missing here uses reply.normal).
    "reply_by_type": {"inquiry": "3wd"},
    "green_sign": "12h",
    "green_reply": "3wd",
    "return_window": "2wd",
    "max_extension_workdays": 10,
    "callback_delay_workdays": 1,
    "near_deadline_fraction": 0.25,  # yellow light when less than this share of the time is left
}


@dataclasses.dataclass(frozen=True)
class TimeLimits:
    config: dict[str, Any]

    @classmethod
    def default(cls) -> "TimeLimits":
        return cls(json.loads(json.dumps(DEFAULTS)))

    @classmethod
    def from_file(cls, path: str | Path) -> "TimeLimits":
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        merged = json.loads(json.dumps(DEFAULTS))
        for key, value in data.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key].update(value)
            else:
                merged[key] = value
        limits = cls(merged)
        limits.validate()
        return limits

    def validate(self) -> None:
        for group in ("sign", "reply", "reply_by_type"):
            for v in self.config[group].values():
                Limit.parse(v)
        for key in ("green_sign", "green_reply", "return_window"):
            Limit.parse(self.config[key])

    def sign_limit(self, urgency: str, green: bool) -> Limit:
        limit = Limit.parse(self.config["sign"].get(urgency, self.config["sign"]["normal"]))
        if green:
            limit = _shorter(limit, Limit.parse(self.config["green_sign"]))
        return limit

    def reply_limit(self, type_: str, urgency: str, green: bool) -> Limit:
        if urgency == "normal" and type_ in self.config["reply_by_type"]:
            limit = Limit.parse(self.config["reply_by_type"][type_])
        else:
            limit = Limit.parse(self.config["reply"].get(urgency, self.config["reply"]["normal"]))
        if green:
            limit = _shorter(limit, Limit.parse(self.config["green_reply"]))
        return limit

    @property
    def return_window(self) -> Limit:
        return Limit.parse(self.config["return_window"])

    @property
    def max_extension_workdays(self) -> int:
        return int(self.config["max_extension_workdays"])

    @property
    def callback_delay_workdays(self) -> int:
        return int(self.config["callback_delay_workdays"])

    @property
    def near_deadline_fraction(self) -> float:
        return float(self.config["near_deadline_fraction"])


def _shorter(a: Limit, b: Limit) -> Limit:
    """The shorter of two limits, comparing a working day as 24 hours."""
    hours = lambda x: x.amount * (24 if x.unit == "wd" else 1)  # noqa: E731
    return a if hours(a) <= hours(b) else b
