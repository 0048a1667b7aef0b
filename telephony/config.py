"""Bridge configuration, read from the environment so a check can drive it."""
from __future__ import annotations

import dataclasses
import os
import socket
import uuid
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent / "prompts"


def _hostport(value: str, default_port: int = 5060) -> tuple[str, int]:
    value = value.strip()
    if value.startswith("["):  # [v6]:port
        host, _, rest = value[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    return host, int(port)


def _bool(v: str | None, default: bool = False) -> bool:
    if v is None or v == "":
        return default
    return v.strip().lower() in ("1", "true", "yes", "on")


@dataclasses.dataclass
class SipConfig:
    """Everything the bridge needs besides the ports (call log, operators, tickets, jobs).

    ``mode`` is ``trunk`` (no REGISTER; one upstream peer, or none for direct calls) or
    ``register`` (REGISTER to ``registrar`` with digest credentials).
    """

    listen_host: str = "127.0.0.1"
    listen_port: int = 5060
    mode: str = "trunk"
    peer: tuple[str, int] | None = None  # trunk: upstream PBX / carrier trunk / proxy
    registrar: tuple[str, int] | None = None  # register mode
    username: str = "12345"
    password: str = ""
    domain: str | None = None
    register_expires: int = 300
    # Public address written into Contact / SDP (defaults to listen_host).
    advertise_host: str | None = None
    rtp_host: str | None = None
    rtp_port_min: int = 0  # 0: let the OS pick (tests); else an even port range
    rtp_port_max: int = 0
    bridge_id: str = dataclasses.field(default_factory=lambda: f"{socket.gethostname()}-sip")
    line: str = "12345"  # the number dialled when the Request-URI carries none
    # Call flow
    ring_seconds: float = 1.0
    flow: str = "queue"  # queue | menu
    operator_ring_seconds: float = 15.0  # an operator who doesn't pick up in N s is skipped
    skip_retry_seconds: float = 10.0  # after every free operator was skipped, try them again after
    # Never an endless queue: after this wait the caller is offered voicemail or a call-back.
    max_queue_seconds: float = 300.0
    menu_timeout_seconds: float = 6.0
    digit_timeout_seconds: float = 5.0
    voicemail_max_seconds: float = 60.0
    voicemail_dir: Path = Path("var/voicemail")
    prompt_dir: Path = PROMPT_DIR
    # Outbound
    outbound_ring_seconds: float = 30.0
    outbound_poll_seconds: float = 2.0
    outbound_max_parallel: int = 4
    invite_timeout_seconds: float = 32.0  # Timer B
    max_calls: int = 300  # above this, INVITEs get 503 (refused)
    # If set, requests from other addresses get 403 and are not logged as calls (SIP scanners must
    # not count against the connection rate), in or out of a dialog. E.g. the trunk peer, Kamailio.
    # The far end of a call the bridge placed may always speak in that call's dialog.
    trusted: frozenset[str] = frozenset()
    # Flood guards (issue 9). No RTP from a caller for rtp_timeout s ends the call with BYE
    # (Asterisk's rtptimeout); a source sending more new calls per second than this gets 503.
    rtp_timeout: float = 30.0
    max_calls_per_second: float = 20.0  # per source address; Kamailio in front counts as one
    retry_after_seconds: int = 5  # Retry-After on every 503
    # SIP over TCP on the same port as UDP (RFC 3261 §18)
    tcp: bool = True
    tcp_max_connections: int = 256
    tcp_max_per_source: int = 64
    tcp_idle_seconds: float = 120.0  # no complete message either way for this long: closed
    max_message_bytes: int = 65535  # one SIP message over TCP (headers + body)
    user_agent: str = "hotline-12345-bridge/1.0 (pyVoIP 1.6.8 adapter)"

    @property
    def contact_host(self) -> str:
        return self.advertise_host or self.listen_host

    @property
    def media_host(self) -> str:
        return self.rtp_host or self.contact_host

    @property
    def outbound_proxy(self) -> tuple[str, int] | None:
        """Where out-of-dialog requests go: the trunk peer or the registrar."""
        return self.registrar if self.mode == "register" else self.peer

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "SipConfig":
        e = os.environ if env is None else env
        host, port = _hostport(e.get("HOTLINE_SIP_LISTEN", "127.0.0.1:5060"))
        cfg = cls(listen_host=host, listen_port=port)
        if e.get("HOTLINE_SIP_PEER"):
            cfg.peer = _hostport(e["HOTLINE_SIP_PEER"])
        if e.get("HOTLINE_SIP_REGISTRAR"):
            cfg.registrar = _hostport(e["HOTLINE_SIP_REGISTRAR"])
        cfg.mode = e.get("HOTLINE_SIP_MODE", "register" if cfg.registrar else "trunk").lower()
        if cfg.mode not in ("trunk", "register"):
            raise ValueError(f"HOTLINE_SIP_MODE must be trunk or register, not {cfg.mode!r}")
        if cfg.mode == "register" and not cfg.registrar:
            raise ValueError("HOTLINE_SIP_MODE=register needs HOTLINE_SIP_REGISTRAR=host:port")
        cfg.username = e.get("HOTLINE_SIP_USER", cfg.username)
        cfg.password = e.get("HOTLINE_SIP_PASSWORD", cfg.password)
        cfg.domain = e.get("HOTLINE_SIP_DOMAIN") or None
        cfg.advertise_host = e.get("HOTLINE_SIP_ADVERTISE") or None
        cfg.rtp_host = e.get("HOTLINE_RTP_HOST") or None
        if e.get("HOTLINE_RTP_PORTS"):
            lo, _, hi = e["HOTLINE_RTP_PORTS"].partition("-")
            cfg.rtp_port_min, cfg.rtp_port_max = int(lo), int(hi)
        cfg.bridge_id = e.get("HOTLINE_SIP_BRIDGE_ID") or f"{socket.gethostname()}-{cfg.listen_port}"
        cfg.line = e.get("HOTLINE_SIP_LINE", cfg.line)
        cfg.flow = e.get("HOTLINE_SIP_FLOW", cfg.flow).lower()
        if cfg.flow not in ("queue", "menu"):
            raise ValueError("HOTLINE_SIP_FLOW must be queue or menu")
        for name, attr in (
            ("HOTLINE_SIP_RING_SECONDS", "ring_seconds"),
            ("HOTLINE_SIP_OPERATOR_RING_SECONDS", "operator_ring_seconds"),
            ("HOTLINE_SIP_MAX_QUEUE_SECONDS", "max_queue_seconds"),
            ("HOTLINE_SIP_OUTBOUND_RING_SECONDS", "outbound_ring_seconds"),
            ("HOTLINE_SIP_VOICEMAIL_MAX_SECONDS", "voicemail_max_seconds"),
            ("HOTLINE_SIP_RTP_TIMEOUT", "rtp_timeout"),
            ("HOTLINE_SIP_MAX_CALLS_PER_SECOND", "max_calls_per_second"),
            ("HOTLINE_SIP_TCP_IDLE_SECONDS", "tcp_idle_seconds"),
        ):
            if e.get(name):
                try:
                    setattr(cfg, attr, float(e[name]))
                except ValueError:
                    raise ValueError(f"{name} must be a number of seconds, not {e[name]!r}") from None
        for name in ("HOTLINE_SIP_MAX_QUEUE_SECONDS", "HOTLINE_SIP_RTP_TIMEOUT",
                     "HOTLINE_SIP_MAX_CALLS_PER_SECOND", "HOTLINE_SIP_TCP_IDLE_SECONDS"):
            if e.get(name) and float(e[name]) <= 0:
                raise ValueError(f"{name} must be greater than 0 (never an endless queue or call)")
        for name, attr in (("HOTLINE_SIP_TCP_MAX_CONNECTIONS", "tcp_max_connections"),
                           ("HOTLINE_SIP_TCP_MAX_PER_SOURCE", "tcp_max_per_source"),
                           ("HOTLINE_SIP_RETRY_AFTER", "retry_after_seconds")):
            if e.get(name):
                if not e[name].strip().isdigit():
                    raise ValueError(f"{name} must be a whole number, not {e[name]!r}")
                setattr(cfg, attr, int(e[name]))
        cfg.tcp = _bool(e.get("HOTLINE_SIP_TCP"), True)
        if e.get("HOTLINE_SIP_TRUSTED"):
            cfg.trusted = frozenset(x.strip() for x in e["HOTLINE_SIP_TRUSTED"].split(",") if x.strip())
        if e.get("HOTLINE_SIP_MAX_CALLS"):
            cfg.max_calls = int(e["HOTLINE_SIP_MAX_CALLS"])
        if e.get("HOTLINE_SIP_VOICEMAIL_DIR"):
            cfg.voicemail_dir = Path(e["HOTLINE_SIP_VOICEMAIL_DIR"])
        if e.get("HOTLINE_SIP_PROMPT_DIR"):
            cfg.prompt_dir = Path(e["HOTLINE_SIP_PROMPT_DIR"])
        return cfg

    def baresip_hint(self) -> str:
        return (
            f"Call the hotline with baresip:  baresip -e '/dial sip:{self.line}@"
            f"{self.contact_host}:{self.listen_port}'   (digits: type them in baresip's console)"
        )


def new_tag() -> str:
    return uuid.uuid4().hex[:12]
