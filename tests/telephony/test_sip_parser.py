"""Parser/encoder unit tests, and evidence that the installed pyVoIP 1.6.8 has the defects we work
around (these tests fail the day pyVoIP fixes them, telling us an adapter can go)."""
from __future__ import annotations

import audioop

import pytest

import pyVoIP.VoIP  # noqa: F401  (import order: pyVoIP.SIP alone is a circular import)
from pyVoIP.RTP import PayloadType, RTPClient, TransmitType
from pyVoIP.SIP import SIPMessage

from telephony import sdp
from telephony.config import SipConfig
from telephony.privacy import mask_number, mask_text
from telephony.sip import SipUA
from telephony.sipmsg import ParseError, SipMessage, digest_authorization

INVITE = (
    b"INVITE sip:12345@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bKabc;rport\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKdef\r\n"
    b"Record-Route: <sip:10.0.0.2;lr>\r\n"
    b"Record-Route: <sip:10.0.0.3;lr>\r\n"
    b'From: "Li" <sip:13812345678@10.0.0.2>;tag=aa\r\n'
    b"To: <sip:12345@127.0.0.1>\r\n"
    b"Call-ID: x1@10.0.0.2\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Contact: <sip:13812345678@10.0.0.2:5062>\r\n"
    b"Supported:\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 120\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.2\r\ns=-\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\n"
    b"m=audio 4000 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def test_parse_invite_with_empty_header_and_multi_hop_headers():
    m = SipMessage.parse(INVITE)
    assert m.method == "INVITE" and m.get("Supported") == ""
    assert m.call_id == "x1@10.0.0.2" and m.cseq == (7, "INVITE")
    assert [v.port for v in m.vias] == [5062, 5070]
    assert len(m.get_all("Record-Route")) == 2
    assert m.from_.tag == "aa" and m.from_.uri.user == "13812345678"
    offer = sdp.parse(m.body)
    assert offer.port == 4000 and sdp.negotiate(offer).pt == 8 and sdp.negotiate(offer).dtmf_pt == 101


def test_pyvoip_drops_invite_with_empty_header():
    """pyVoIP defect: 'Supported:' makes SIPMessage raise, so SIPClient.recv drops the INVITE."""
    with pytest.raises(IndexError):
        SIPMessage(INVITE)


def test_pyvoip_cannot_parse_options():
    """pyVoIP defect: OPTIONS is not in SIPCompatibleMethods, so it is never answered."""
    raw = INVITE.replace(b"INVITE sip", b"OPTIONS sip").replace(b"Supported:\r\n", b"")
    with pytest.raises(Exception):
        SIPMessage(raw)
    assert SipMessage.parse(raw).method == "OPTIONS"


def test_pyvoip_encodes_pcma_as_pcmu():
    """pyVoIP defect: RTPClient.encode_packet uses the μ-law encoder for PCMA."""
    client = RTPClient({8: PayloadType.PCMA}, "127.0.0.1", 0, "127.0.0.1", 0, TransmitType.SENDRECV)
    pcm8 = bytes(range(0, 256, 2)) * 2
    lin = audioop.bias(pcm8, 1, -128)
    assert client.encode_packet(pcm8) == audioop.lin2ulaw(lin, 1)
    assert client.encode_packet(pcm8) != audioop.lin2alaw(lin, 1)


@pytest.mark.parametrize("data", [
    b"", b"\r\n\r\n", b"\x00\x01\x02garbage", b"HELLO WORLD", b"INVITE sip:x SIP/2.0\r\n\r\n",
    b"SIP/2.0 2000 OK\r\n\r\n", "INVITE sip:中 SIP/2.0\r\nVia: x\r\n\r\n".encode("gbk"),
])
def test_garbage_raises_parse_error(data):
    with pytest.raises((ParseError, ValueError)):
        SipMessage.parse(data)


def test_compact_and_folded_headers():
    raw = (b"OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bK1\r\n"
           b"f: <sip:x@y>;tag=1\r\nt: <sip:a@b>\r\ni: cid\r\nCSeq: 1\r\n  OPTIONS\r\nl: 0\r\n\r\n")
    m = SipMessage.parse(raw)
    assert m.call_id == "cid" and m.cseq == (1, "OPTIONS") and m.top_via.host == "1.2.3.4"


def test_response_destination_rfc3261():
    m = SipMessage.parse(INVITE)
    assert SipUA.response_destination(m, ("192.0.2.7", 40000)) == ("192.0.2.7", 40000)  # rport
    no_rport = SipMessage.parse(INVITE.replace(b";rport", b""))
    assert SipUA.response_destination(no_rport, ("192.0.2.7", 40000)) == ("192.0.2.7", 5062)


def test_negotiation_prefers_offer_order_and_refuses_unknown():
    assert sdp.negotiate(sdp.MediaOffer("h", 1, [0, 8], {})).pt == 0
    assert sdp.negotiate(sdp.MediaOffer("h", 1, [8, 0], {})).pt == 8
    assert sdp.negotiate(sdp.MediaOffer("h", 1, [3, 18], {})) is None
    assert sdp.parse(b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 5 RTP/AVP 0\r\na=sendonly\r\n").hold


def test_digest_matches_rfc2617_example():
    ch = 'Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    out = digest_authorization(ch, "GET", "/dir/index.html", "Mufasa", "Circle Of Life")
    assert 'response="670fd8c2df070c60b045671b8b24ff02"' in out


def test_masking():
    assert mask_number("13812345678") == "138****5678"
    assert mask_text("sip:13812345678@h") == "sip:138****5678@h"


def test_config_from_env():
    cfg = SipConfig.from_env({"HOTLINE_SIP_LISTEN": "0.0.0.0:5070", "HOTLINE_SIP_PEER": "10.1.1.1:5080",
                              "HOTLINE_SIP_FLOW": "menu", "HOTLINE_SIP_RING_SECONDS": "2"})
    assert (cfg.listen_host, cfg.listen_port, cfg.peer, cfg.mode) == ("0.0.0.0", 5070, ("10.1.1.1", 5080), "trunk")
    assert cfg.flow == "menu" and cfg.ring_seconds == 2.0
    assert SipConfig.from_env({}).listen_port == 5060
    reg = SipConfig.from_env({"HOTLINE_SIP_REGISTRAR": "pbx:5060", "HOTLINE_SIP_PASSWORD": "p"})
    assert reg.mode == "register" and reg.outbound_proxy == ("pbx", 5060)
