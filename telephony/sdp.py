"""SDP offer/answer for G.711 audio (PCMU, PCMA) and RFC 2833 telephone-event.

Our own small parser: pyVoIP's ``SIPMessage.parse_body`` raises on valid SDP (an ``a=rtpmap``
at session level, a Content-Type with parameters) and its ``RTPClient`` picks "the first codec it
can encode" then encodes PCMA with the PCMU encoder (defect "PCMA encoded as PCMU"). Here the
negotiated payload type is carried into :class:`telephony.media.RtpSession`, which encodes with the
matching G.711 law. pyVoIP's ``PayloadType`` enum supplies the static payload numbers.
"""
from __future__ import annotations

import dataclasses
import itertools
import time

from pyVoIP.RTP import PayloadType

SUPPORTED = {"PCMU": PayloadType.PCMU.value, "PCMA": PayloadType.PCMA.value}  # 0, 8
_STATIC_NAMES = {0: "PCMU", 8: "PCMA", 3: "GSM", 9: "G722", 18: "G729", 4: "G723", 13: "CN"}
_sess = itertools.count(int(time.time()))


@dataclasses.dataclass
class MediaOffer:
    host: str
    port: int
    payloads: list[int]
    rtpmap: dict[int, str]  # pt -> encoding name (upper case)
    direction: str = "sendrecv"

    @property
    def hold(self) -> bool:
        return self.direction in ("sendonly", "inactive") or self.host in ("0.0.0.0", "")

    def codec_name(self, pt: int) -> str:
        return self.rtpmap.get(pt) or _STATIC_NAMES.get(pt, str(pt))


def parse(body: bytes) -> MediaOffer | None:
    """The first audio stream of an SDP body, or None when there is none."""
    try:
        text = body.decode("utf-8", "replace")
    except Exception:
        return None
    sess_c = None
    media: MediaOffer | None = None
    direction_sess = "sendrecv"
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        k, v = line[0], line[2:]
        if k == "m":
            if media is not None:
                break  # only the first audio m-line matters to us
            parts = v.split()
            if len(parts) < 4 or parts[0] != "audio":
                continue
            try:
                port = int(parts[1].split("/")[0])
                pts = [int(x) for x in parts[3:] if x.isdigit()]
            except ValueError:
                return None
            media = MediaOffer(sess_c or "", port, pts, {}, direction_sess)
        elif k == "c":
            parts = v.split()
            if len(parts) >= 3:
                addr = parts[2].split("/")[0]
                if media is None:
                    sess_c = addr
                else:
                    media.host = addr
        elif k == "a":
            name, _, val = v.partition(":")
            if name in ("sendrecv", "sendonly", "recvonly", "inactive"):
                if media is None:
                    direction_sess = name
                else:
                    media.direction = name
            elif name == "rtpmap" and media is not None:
                pt_s, _, enc = val.partition(" ")
                if pt_s.strip().isdigit():
                    media.rtpmap[int(pt_s)] = enc.split("/")[0].strip().upper()
    return media


@dataclasses.dataclass
class Negotiated:
    pt: int  # 0 PCMU or 8 PCMA
    dtmf_pt: int | None  # telephone-event payload type, if offered

    @property
    def codec(self) -> str:
        return "PCMA" if self.pt == 8 else "PCMU"


def negotiate(offer: MediaOffer, prefer: tuple[str, ...] = ("PCMA", "PCMU")) -> Negotiated | None:
    """Pick the offerer's first G.711 codec (offer order wins, RFC 3264 §6.1). None → 488."""
    chosen = None
    for pt in offer.payloads:
        name = offer.codec_name(pt)
        if name in SUPPORTED and SUPPORTED[name] == pt:
            chosen = pt
            break
        if name in SUPPORTED and pt >= 96:  # dynamic G.711 mapping: unusual, treat as static
            chosen = SUPPORTED[name]
            break
    if chosen is None:
        return None
    dtmf = next((pt for pt in offer.payloads if offer.codec_name(pt) == "TELEPHONE-EVENT"), None)
    return Negotiated(chosen, dtmf)


def build(host: str, port: int, payloads: list[int], dtmf_pt: int | None = 101,
          direction: str = "sendrecv", session_id: int | None = None, version: int = 1) -> bytes:
    sid = session_id if session_id is not None else next(_sess)
    pts = list(payloads) + ([dtmf_pt] if dtmf_pt is not None else [])
    lines = [
        "v=0",
        f"o=hotline {sid} {version} IN IP4 {host}",
        "s=12345",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {' '.join(str(p) for p in pts)}",
    ]
    for p in payloads:
        lines.append(f"a=rtpmap:{p} {_STATIC_NAMES.get(p, 'PCMU')}/8000")
    if dtmf_pt is not None:
        lines.append(f"a=rtpmap:{dtmf_pt} telephone-event/8000")
        lines.append(f"a=fmtp:{dtmf_pt} 0-16")
    lines.append("a=ptime:20")
    lines.append(f"a={direction}")
    return ("\r\n".join(lines) + "\r\n").encode()


def answer_direction(offer: MediaOffer) -> str:
    return {"sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}.get(
        offer.direction, "sendrecv")
