"""SIP message parsing and building for the bridge.

Why the bridge parses SIP itself instead of through ``pyVoIP.SIP.SIPMessage`` (pyVoIP 1.6.8):

* ``SIPMessage.parse_raw_header`` splits every header line on ``": "`` and indexes ``[1]``, so an
  empty header (baresip sends ``Supported:``), a header without a space after the colon, or a
  folded line raises ``IndexError``; ``SIPClient.recv`` swallows it and the INVITE is silently
  dropped (defect "empty header").
* Only the first occurrence of each header is kept (except Via), so a multi-hop ``Record-Route``
  is lost; Via parameters are reparsed and cannot be echoed verbatim as RFC 3261 §8.2.6.2 requires.
* ``SIPCompatibleMethods`` is ``INVITE ACK BYE CANCEL``: an OPTIONS request raises
  ``SIPParseError`` and gets no answer (defect "OPTIONS"), so proxies mark the bridge dead.
* ``SIPStatus(int)`` raises for any code missing from its enum, so an unusual response is dropped.
* From/To with a ``tel:`` URI, compact header forms (``v:``, ``f:`` …) or ``Content-Type`` with
  parameters are not understood.

We still use pyVoIP's ``SIPStatus`` table for reason phrases. The tests in
``tests/telephony/test_sipmsg.py`` demonstrate each parser defect against the installed pyVoIP.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
import uuid

import pyVoIP.VoIP  # noqa: F401  (pyVoIP 1.6.8: importing pyVoIP.SIP first is a circular import)
from pyVoIP.SIP import SIPStatus

COMPACT = {"v": "Via", "f": "From", "t": "To", "i": "Call-ID", "m": "Contact", "l": "Content-Length",
           "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding",
           "o": "Event", "r": "Refer-To", "u": "Allow-Events"}
_CANON = {n.lower(): n for n in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Content-Length", "Content-Type",
    "Max-Forwards", "Record-Route", "Route", "Allow", "Supported", "User-Agent", "Server",
    "Expires", "WWW-Authenticate", "Proxy-Authenticate", "Authorization", "Proxy-Authorization",
    "Require", "Accept", "Event", "Subject", "Reason", "Min-Expires", "Unsupported")}
_CANON["call-id"] = "Call-ID"
_CANON["cseq"] = "CSeq"
_CANON["www-authenticate"] = "WWW-Authenticate"

METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE", "PRACK",
           "NOTIFY", "SUBSCRIBE", "REFER", "MESSAGE", "PUBLISH")
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE"


class ParseError(ValueError):
    pass


def reason_phrase(code: int) -> str:
    try:
        return SIPStatus(code).phrase
    except ValueError:
        return {1: "Session Progress", 2: "OK", 3: "Redirect", 4: "Request Failure",
                5: "Server Error", 6: "Global Failure"}.get(code // 100, "Unknown")


def canon(name: str) -> str:
    name = name.strip()
    if len(name) == 1 and name.lower() in COMPACT:
        return COMPACT[name.lower()]
    return _CANON.get(name.lower(), name)


def split_commas(value: str) -> list[str]:
    """Split a header value on commas that are outside quotes and angle brackets."""
    out, cur, depth, quote = [], [], 0, False
    for ch in value:
        if ch == '"':
            quote = not quote
        elif not quote and ch == "<":
            depth += 1
        elif not quote and ch == ">":
            depth -= 1
        if ch == "," and not quote and depth <= 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


@dataclasses.dataclass
class Uri:
    scheme: str = "sip"
    user: str | None = None
    host: str = ""
    port: int | None = None
    params: str = ""  # ";lr;transport=udp" as written

    @classmethod
    def parse(cls, text: str) -> "Uri":
        text = text.strip().strip("<>")
        m = re.match(r"^(sips?|tel):(?:([^@;?]*)@)?([^;?]*)(.*)$", text, re.I)
        if not m:
            raise ParseError(f"bad URI {text!r}")
        scheme, user, hostport, params = m.groups()
        if scheme.lower() == "tel":
            return cls("tel", hostport, "", None, params)
        host, port = hostport, None
        if hostport.startswith("["):
            host, _, rest = hostport[1:].partition("]")
            port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif ":" in hostport:
            host, _, p = hostport.rpartition(":")
            port = int(p) if p.isdigit() else None
        return cls(scheme.lower(), user or None, host, port, params)

    def __str__(self) -> str:
        if self.scheme == "tel":
            return f"tel:{self.user}{self.params}"
        hp = self.host + (f":{self.port}" if self.port else "")
        return f"{self.scheme}:{self.user + '@' if self.user else ''}{hp}{self.params}"

    @property
    def lr(self) -> bool:
        return ";lr" in self.params.lower()


@dataclasses.dataclass
class NameAddr:
    display: str
    uri: Uri
    params: dict[str, str]
    raw_uri: str

    @classmethod
    def parse(cls, value: str) -> "NameAddr":
        value = value.strip()
        if "<" in value:
            display, _, rest = value.partition("<")
            raw_uri, _, params = rest.partition(">")
        else:
            raw_uri, _, params = value.partition(";")
            params = ";" + params if params else ""
            display = ""
        p: dict[str, str] = {}
        for part in params.split(";"):
            if part.strip():
                k, _, v = part.strip().partition("=")
                p[k.lower()] = v
        try:
            uri = Uri.parse(raw_uri)
        except ParseError:
            uri = Uri(host=raw_uri)
        return cls(display.strip().strip('"'), uri, p, raw_uri.strip())

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")


@dataclasses.dataclass
class Via:
    transport: str
    host: str
    port: int | None
    params: dict[str, str | None]

    @classmethod
    def parse(cls, value: str) -> "Via":
        m = re.match(r"\s*SIP\s*/\s*2\.0\s*/\s*(\w+)\s+([^;\s]+)\s*(.*)$", value, re.I)
        if not m:
            raise ParseError(f"bad Via {value!r}")
        transport, hostport, rest = m.groups()
        host, port = hostport, None
        if hostport.startswith("["):
            host, _, r = hostport[1:].partition("]")
            port = int(r[1:]) if r[1:].isdigit() else None
        elif ":" in hostport:
            host, _, p = hostport.rpartition(":")
            port = int(p) if p.isdigit() else None
        params: dict[str, str | None] = {}
        for part in rest.split(";"):
            part = part.strip()
            if part:
                k, eq, v = part.partition("=")
                params[k.strip().lower()] = v.strip() if eq else None
        return cls(transport.upper(), host, port, params)

    def __str__(self) -> str:
        hp = self.host + (f":{self.port}" if self.port else "")
        ps = "".join(f";{k}" if v is None else f";{k}={v}" for k, v in self.params.items())
        return f"SIP/2.0/{self.transport} {hp}{ps}"

    @property
    def branch(self) -> str:
        return self.params.get("branch") or ""


class SipMessage:
    """A parsed SIP request or response. Headers keep their order and every occurrence."""

    def __init__(self) -> None:
        self.method: str | None = None
        self.uri: str = ""
        self.status: int = 0
        self.reason: str = ""
        self.headers: list[tuple[str, str]] = []
        self.body: bytes = b""

    # -- access -------------------------------------------------------------------------------
    @property
    def is_request(self) -> bool:
        return self.method is not None

    def get(self, name: str, default: str | None = None) -> str | None:
        name = canon(name)
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def get_all(self, name: str, split: bool = True) -> list[str]:
        name = canon(name)
        out: list[str] = []
        for k, v in self.headers:
            if k == name:
                out.extend(split_commas(v) if split else [v])
        return out

    @property
    def call_id(self) -> str:
        return self.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        v = (self.get("CSeq") or "0 X").split()
        if not v or not v[0].isdigit():
            raise ParseError("bad CSeq")
        return int(v[0]), (v[1].upper() if len(v) > 1 else "")

    @property
    def from_(self) -> NameAddr:
        return NameAddr.parse(self.get("From") or "")

    @property
    def to(self) -> NameAddr:
        return NameAddr.parse(self.get("To") or "")

    @property
    def vias(self) -> list[Via]:
        return [Via.parse(v) for v in self.get_all("Via")]

    @property
    def top_via(self) -> Via:
        vias = self.get_all("Via")
        if not vias:
            raise ParseError("no Via")
        return Via.parse(vias[0])

    @property
    def branch(self) -> str:
        return self.top_via.branch

    @property
    def contact(self) -> NameAddr | None:
        c = self.get_all("Contact")
        return NameAddr.parse(c[0]) if c and c[0].strip() != "*" else None

    @property
    def content_type(self) -> str:
        return (self.get("Content-Type") or "").split(";")[0].strip().lower()

    # -- parse --------------------------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes) -> "SipMessage":
        if not data or not data.strip():
            raise ParseError("keep-alive / empty")
        if b"\r\n\r\n" in data:
            head, body = data.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
        elif b"\n\n" in data:
            head, body = data.split(b"\n\n", 1)
            lines = head.split(b"\n")
        else:
            head, body = data, b""
            lines = head.replace(b"\r\n", b"\n").split(b"\n")
        try:
            text_lines = [ln.decode("utf-8") for ln in lines]
        except UnicodeDecodeError as exc:
            raise ParseError("not UTF-8") from exc
        msg = cls()
        start = text_lines[0].strip()
        parts = start.split(" ", 2)
        if len(parts) < 3:
            raise ParseError(f"bad start line {start[:40]!r}")
        if parts[0].upper() == "SIP/2.0":
            if not parts[1].isdigit() or len(parts[1]) != 3:
                raise ParseError("bad status code")
            msg.status, msg.reason = int(parts[1]), parts[2]
        elif parts[2].upper() == "SIP/2.0" and re.fullmatch(r"[A-Za-z]+", parts[0]):
            msg.method, msg.uri = parts[0].upper(), parts[1]
        else:
            raise ParseError(f"not SIP: {start[:40]!r}")
        for ln in text_lines[1:]:
            if not ln:
                continue
            if ln[0] in " \t" and msg.headers:  # folded continuation line
                k, v = msg.headers[-1]
                msg.headers[-1] = (k, v + " " + ln.strip())
                continue
            name, sep, value = ln.partition(":")
            if not sep or not name.strip():
                raise ParseError(f"bad header line {ln[:40]!r}")
            msg.headers.append((canon(name), value.strip()))  # empty values are legal
        for needed in ("Call-ID", "CSeq", "From", "To"):
            if msg.get(needed) is None:
                raise ParseError(f"missing {needed}")
        if not msg.get_all("Via"):
            raise ParseError("missing Via")
        cl = msg.get("Content-Length")
        if cl is not None and cl.strip().isdigit():
            body = body[: int(cl)]
        msg.body = body
        msg.top_via  # validates
        msg.cseq
        return msg

    # -- serialise ----------------------------------------------------------------------------
    def encode(self) -> bytes:
        if self.is_request:
            lines = [f"{self.method} {self.uri} SIP/2.0"]
        else:
            lines = [f"SIP/2.0 {self.status} {self.reason or reason_phrase(self.status)}"]
        hdrs = [(k, v) for k, v in self.headers if k != "Content-Length"]
        lines += [f"{k}: {v}" for k, v in hdrs]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body

    def set(self, name: str, value: str) -> None:
        name = canon(name)
        self.headers = [(k, v) for k, v in self.headers if k != name]
        self.headers.append((name, value))

    def add(self, name: str, value: str) -> None:
        self.headers.append((canon(name), value))


def new_branch() -> str:
    return "z9hG4bK" + uuid.uuid4().hex[:20]


def new_call_id(host: str) -> str:
    return f"{uuid.uuid4().hex}@{host}"


def digest_authorization(challenge: str, method: str, uri: str, username: str, password: str,
                         nc: int = 1) -> str:
    """Build an ``Authorization`` value for a Digest (MD5, qop=auth or none) challenge."""
    params = {k: (a or b) for k, a, b in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', challenge)}
    realm, nonce = params.get("realm", ""), params.get("nonce", "")
    algorithm = params.get("algorithm", "MD5")
    ha1 = hashlib.md5(f"{username}:{realm}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    qop = params.get("qop")
    out = (f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
           f"algorithm={algorithm}")
    if qop and "auth" in [q.strip() for q in qop.split(",")]:
        cnonce = uuid.uuid4().hex[:16]
        ncs = f"{nc:08x}"
        resp = hashlib.md5(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}".encode()).hexdigest()
        out += f', qop=auth, nc={ncs}, cnonce="{cnonce}"'
    else:
        resp = hashlib.md5(f"{ha1}:{nonce}:{ha2}".encode()).hexdigest()
    out += f', response="{resp}"'
    if "opaque" in params:
        out += f', opaque="{params["opaque"]}"'
    return out
