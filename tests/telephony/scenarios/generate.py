"""Writes the SIPp scenarios in this folder (the XMLs are committed; edit here, then run
``python tests/telephony/scenarios/generate.py`` and commit both)."""
import os
D = os.path.dirname(os.path.abspath(__file__))
HEAD = '''<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<!-- {doc} -->
<scenario name="{name}">
'''
TAIL = '''
  <ResponseTimeRepartition value="10, 20, 30, 40, 50, 100, 150, 200"/>
  <CallLengthRepartition value="10, 50, 100, 500, 1000, 5000, 10000"/>
</scenario>
'''
FROM = 'From: "Citizen" <sip:13812345678@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]'
TO = 'To: <sip:12345@[remote_ip]:[remote_port]>'
def sdp(port="[rtp_port]", codecs="[codecs]", direction=None):
    s = f'''v=0
      o=citizen 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio {port} RTP/AVP {codecs}
      a=rtpmap:0 PCMU/8000
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15'''
    if direction:
        s += f"\n      a={direction}"
    return s
def invite(cseq=1, branch="[branch]", sdp_body=None, totag=False, retrans=True, extra=""):
    body = sdp_body or sdp()
    return f'''
  <send{' retrans="500"' if retrans else ''}>
    <![CDATA[

      INVITE sip:12345@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
      {FROM}
      {TO}{'[peer_tag_param]' if totag else ''}
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: <sip:13812345678@[local_ip]:[local_port]>
      Max-Forwards: 70
      Supported:
      {extra}Content-Type: application/sdp
      Content-Length: [len]

      {body}

    ]]>
  </send>
'''
def ack(cseq=1, final2xx=True):
    if not final2xx:  # ACK of a non-2xx final: same Request-URI as the INVITE, no route set
        return f'''
  <send>
    <![CDATA[

      ACK sip:12345@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      {FROM}
      {TO}[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
'''
    return f'''
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      {FROM}
      {TO}[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} ACK
      Contact: <sip:13812345678@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
'''
def bye(cseq=2):
    return f'''
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      {FROM}
      {TO}[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} BYE
      Contact: <sip:13812345678@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>

  <recv response="200" crlf="true"/>
'''
ANSWERED = '''
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>
'''
def dtmf(*keys, gap=700):
    out = ""
    for k in keys:
        name = {"#": "pound", "*": "star"}.get(k, k)
        out += f'''
  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_{name}.pcap"/></action></nop>
''' + (f'  <pause milliseconds="{gap}"/>\n' if gap else "")
    return out
import re
def write(name, doc, body):
    vs = sorted({v for m in re.findall(r'assign_to="([\w,]+)"', body) for v in m.split(",")} - {"authvalid"})
    ref = f'\n  <Reference variables="{",".join(vs)}"/>\n' if vs else ""
    with open(os.path.join(D, name + ".xml"), "w") as f:
        f.write(HEAD.format(doc=doc, name=name) + body + ref + TAIL)

write("uac_call", "A citizen calls 12345 and hangs up after -d ms (BYE). Keys: codecs (e.g. '8 0 101'), rtp_port.\n     The INVITE carries an empty header ('Supported:') as baresip sends it.",
      invite() + ANSWERED + ack() + "\n  <pause/>\n" + bye())
write("uac_menu_ticket", "Menu flow: after the greeting press 2 (ticket status), key in 1 2 3 #, listen, hang up.\n     DTMF is RFC 2833 from SIPp's pcaps; media from SIPp's own media port. Keys: codecs, rtp_port.",
      invite(sdp_body=sdp(port="[media_port]")) + ANSWERED + ack() + '\n  <pause milliseconds="1500"/>\n' + dtmf("2", gap=900) + dtmf("1", "2", "3", "#", gap=400) + "\n  <pause/>\n" + bye())
write("uac_menu_voicemail", "Menu flow: press 3 (leave a message), speak (g711a.pcap, 3 s of it), press #; the bridge hangs up.",
      invite(sdp_body=sdp(port="[media_port]")) + ANSWERED + ack() + '\n  <pause milliseconds="1500"/>\n' + dtmf("3", gap=1500) +
      '''
  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>
  <pause milliseconds="3000"/>
''' + dtmf("#", gap=0) + '''
  <!-- the bridge thanks the caller and hangs up -->
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
''')
write("uac_cancel", "The caller hangs up while the bridge still rings: CANCEL -> 200, INVITE -> 487, ACK.",
      invite() + '''
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="300"/>
  <send>
    <![CDATA[

      CANCEL sip:12345@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      ''' + FROM + '''
      ''' + TO + '''
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
''' + ack(final2xx=False) + '\n  <pause milliseconds="1000"/>\n')
write("uac_retrans", "INVITE retransmission: the same INVITE (same branch) sent three times while the bridge rings.\n     The bridge must answer once, start one RTP stream. Keys: codecs, rtp_port.",
      invite(branch="z9hG4bK-retrans-[pid]-[call_number]", retrans=False) +
      '\n  <recv response="100"/>\n  <recv response="180"/>\n' +
      invite(branch="z9hG4bK-retrans-[pid]-[call_number]", retrans=False) +
      invite(branch="z9hG4bK-retrans-[pid]-[call_number]", retrans=False) +
      '\n  <!-- the bridge re-sends its last response (180) for each copy -->\n' +
      '  <recv response="180" optional="true"/>\n  <recv response="180" optional="true"/>\n' +
      '\n  <recv response="200" rtd="true" rrs="true"/>\n' + ack() + "\n  <pause/>\n" + bye())
write("uac_nocodec", "An offer with no codec the bridge speaks (GSM, G.729): 488, ACK.",
      invite() + '''
  <recv response="100" optional="true"/>
  <recv response="488"/>
''' + ack(final2xx=False))
write("uac_options", "OPTIONS ping, as a proxy (Kamailio dispatcher) sends it: expect 200.",
      '''
  <send retrans="500">
    <![CDATA[

      OPTIONS sip:12345@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:probe@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:12345@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 OPTIONS
      Max-Forwards: 70
      Accept: application/sdp
      Content-Length: 0

    ]]>
  </send>
  <recv response="200">
    <action><ereg regexp="INVITE" search_in="hdr" header="Allow:" check_it="true" assign_to="a"/></action>
  </recv>
''')
write("uac_hold", "Hold and resume by re-INVITE: sendonly -> expect recvonly; sendrecv -> expect sendrecv.",
      invite() + ANSWERED + ack() + '\n  <pause milliseconds="500"/>\n' +
      invite(cseq=2, sdp_body=sdp(direction="sendonly"), totag=True) + '''
  <recv response="100" optional="true"/>
  <recv response="200">
    <action><ereg regexp="a=recvonly" search_in="body" check_it="true" assign_to="h"/></action>
  </recv>
''' + ack(2) + '\n  <pause milliseconds="500"/>\n' +
      invite(cseq=3, sdp_body=sdp(direction="sendrecv"), totag=True) + '''
  <recv response="100" optional="true"/>
  <recv response="200">
    <action><ereg regexp="a=sendrecv" search_in="body" check_it="true" assign_to="r"/></action>
  </recv>
''' + ack(3) + "\n  <pause/>\n" + bye(4))

# ---------------- UAS scenarios (operators, citizens called back, registrar) -----------------
UAS_OK = '''
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=callee 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio {port} RTP/AVP 8 101
      a=rtpmap:8 PCMA/8000
      a=rtpmap:101 telephone-event/8000

    ]]>
  </send>
'''
def uas_resp(code, reason, tag=True, contact=False):
    return f'''
  <send>
    <![CDATA[

      SIP/2.0 {code} {reason}
      [last_Via:]
      [last_From:]
      [last_To:]{';tag=[pid]SIPpTag01[call_number]' if tag else ''}
      [last_Call-ID:]
      [last_CSeq:]
      {'Contact: <sip:[local_ip]:[local_port];transport=[transport]>' if contact else ''}
      Content-Length: 0

    ]]>
  </send>
'''
ACK_CHECK = '''
  <recv request="ACK" rtd="true" crlf="true">
    <!-- the ACK must carry the To tag this UAS gave -->
    <action><ereg regexp="tag=[0-9]+SIPpTag01" search_in="hdr" header="To:" check_it="true" assign_to="t"/></action>
  </recv>
'''
RECV_BYE = '''
  <recv request="BYE"/>
''' + uas_resp(200, "OK", tag=False)
write("uas_answer", "An operator / a citizen answers after ringing 300 ms and waits for the bridge's or caller's BYE.\n     The ACK's To tag is checked. Keys: rtp_port (where this party receives RTP).",
      '\n  <recv request="INVITE" crlf="true"/>\n' + uas_resp(100, "Trying", tag=False) + uas_resp(180, "Ringing", contact=True) +
      '\n  <pause milliseconds="300"/>\n' + UAS_OK.format(port="[rtp_port]") + ACK_CHECK + RECV_BYE)
write("uas_answer_dtmf", "A citizen answers a satisfaction callback, listens, presses 1 and waits for the bridge's BYE.",
      '\n  <recv request="INVITE" crlf="true"/>\n' + uas_resp(100, "Trying", tag=False) + uas_resp(180, "Ringing", contact=True) +
      '\n  <pause milliseconds="300"/>\n' + UAS_OK.format(port="[media_port]") + ACK_CHECK + '\n  <pause milliseconds="800"/>\n' + dtmf("1", gap=0) + RECV_BYE)
write("uas_survey", "A citizen answers a satisfaction callback and keys 1 (satisfied), then 2 (not solved); waits for BYE.",
      '\n  <recv request="INVITE" crlf="true"/>\n' + uas_resp(100, "Trying", tag=False) + uas_resp(180, "Ringing", contact=True) +
      '\n  <pause milliseconds="300"/>\n' + UAS_OK.format(port="[media_port]") + ACK_CHECK + '\n  <pause milliseconds="800"/>\n' +
      dtmf("1", gap=1000) + dtmf("2", gap=0) + RECV_BYE)
write("uas_survey_retry", "A citizen keys 9 (no such answer), then 3 (unsatisfied), stays silent through the second\n     question (1.5 s timeout in the test), keys 2 (not solved) when it is asked again; waits for BYE.",
      '\n  <recv request="INVITE" crlf="true"/>\n' + uas_resp(100, "Trying", tag=False) + uas_resp(180, "Ringing", contact=True) +
      '\n  <pause milliseconds="300"/>\n' + UAS_OK.format(port="[media_port]") + ACK_CHECK + '\n  <pause milliseconds="800"/>\n' +
      dtmf("9", gap=1100) + dtmf("3", gap=2500) + dtmf("2", gap=0) + RECV_BYE)
write("uas_answer_hangup", "An operator answers and hangs up (BYE) after -d ms. Keys: rtp_port.\n     The BYE's To carries the bridge's From tag (taken from the INVITE), as RFC 3261 §12.2.1.1 says.",
      '''
  <recv request="INVITE" crlf="true">
    <action><ereg regexp=";tag=([^;> ]+)" search_in="hdr" header="From:" assign_to="ftagall,ftag"/></action>
  </recv>
''' + uas_resp(100, "Trying", tag=False) + uas_resp(180, "Ringing", contact=True) +
      '\n  <pause milliseconds="200"/>\n' + UAS_OK.format(port="[rtp_port]") + ACK_CHECK + '''
  <pause/>
  <send retrans="500">
    <![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:callee@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: <sip:12345@[remote_ip]:[remote_port]>;tag=[$ftag]
      [last_Call-ID:]
      CSeq: 1 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
''')
write("uas_busy", "The callee is busy: 486 at once, with no provisional response before it. The ACK must carry our To tag.",
      '\n  <recv request="INVITE" crlf="true"/>\n' + uas_resp(486, "Busy Here") + ACK_CHECK)
write("uas_noanswer", "The callee rings and never answers: the bridge must CANCEL; 200 to CANCEL, 487, ACK.",
      '\n  <recv request="INVITE" crlf="true"/>\n' + uas_resp(100, "Trying", tag=False) + uas_resp(180, "Ringing", contact=True) +
      '\n  <recv request="CANCEL"/>\n' + uas_resp(200, "OK", tag=True) + '''
  <send>
    <![CDATA[

      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: 1 INVITE
      Content-Length: 0

    ]]>
  </send>
''' + ACK_CHECK)
write("uas_registrar", "A registrar: challenge REGISTER with 401, verify the digest (user 12345, password s3cret), 200;\n     later the un-REGISTER (Expires: 0) at shutdown.",
      '''
  <recv request="REGISTER"/>
  <send>
    <![CDATA[

      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="hotline.test", nonce="[pid]n[call_number]", algorithm=MD5
      Content-Length: 0

    ]]>
  </send>
  <recv request="REGISTER">
    <action>
      <ereg regexp="Digest" search_in="hdr" header="Authorization:" check_it="true" assign_to="d"/>
      <verifyauth assign_to="authvalid" username="12345" password="s3cret"/>
    </action>
  </recv>
  <nop test="authvalid" next="good"/>
  <send next="end">
    <![CDATA[

      SIP/2.0 403 Forbidden
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <label id="good"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Contact:];expires=60
      Content-Length: 0

    ]]>
  </send>
  <recv request="REGISTER">
    <action><ereg regexp="^ *0$" search_in="hdr" header="Expires:" check_it="true" assign_to="e"/></action>
  </recv>
''' + uas_resp(200, "OK") + '\n  <label id="end"/>\n')
write("uac_talk", "A citizen calls, speaks (g711a.pcap, 7 s, from SIPp's media port) and hangs up after -d ms.\n     Keys: codecs, rtp_port (where the citizen receives RTP; a test sink).",
      invite() + ANSWERED + ack() + '''
  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>
  <pause/>
''' + bye())
write("uac_wait_bye", "A citizen calls and stays until the bridge hangs up (the operator ended the call). Keys: codecs, rtp_port.",
      invite() + ANSWERED + ack() + '''
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
''')
write("uas_answer_talk", "An operator answers, speaks (g711a.pcap) and waits for BYE. Keys: rtp_port.",
      '\n  <recv request="INVITE" crlf="true"/>\n' + uas_resp(100, "Trying", tag=False) + uas_resp(180, "Ringing", contact=True) +
      '\n  <pause milliseconds="200"/>\n' + UAS_OK.format(port="[rtp_port]") + ACK_CHECK +
      '\n  <nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>\n' + RECV_BYE)
write("uac_refused", "A call the bridge refuses: 403 (not from a trusted address) or 503 (overloaded); ACK.",
      invite() + '''
  <recv response="100" optional="true"/>
  <recv response="403" optional="true" next="ack"/>
  <recv response="503"/>
  <label id="ack"/>
''' + ack(final2xx=False))
write("uac_offerless", "An INVITE without SDP: the bridge offers in its 200 OK, SIPp answers in the ACK. Keys: rtp_port.",
      '''
  <send retrans="500">
    <![CDATA[

      INVITE sip:12345@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      ''' + FROM + '''
      ''' + TO + '''
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:13812345678@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
''' + ANSWERED.replace('<recv response="200" rtd="true" rrs="true"/>', '''<recv response="200" rtd="true" rrs="true">
    <action><ereg regexp="m=audio [0-9]+ RTP/AVP 8 0 101" search_in="body" check_it="true" assign_to="o"/></action>
  </recv>''') + '''
  <send>
    <![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      ''' + FROM + '''
      ''' + TO + '''[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:13812345678@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      ''' + sdp(codecs="0 101") + '''

    ]]>
  </send>
  <pause/>
''' + bye())
write("uas_auth_answer", "A PBX that challenges the INVITE (401, qop=auth), checks the digest (user 12345, password s3cret),\n     then rings and answers; waits for the bridge's BYE.",
      '''
  <recv request="INVITE"/>
  <send>
    <![CDATA[

      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="pbx.test", nonce="[pid]n[call_number]", algorithm=MD5, qop="auth"
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="INVITE">
    <action>
      <ereg regexp="Digest" search_in="hdr" header="Authorization:" check_it="true" assign_to="d"/>
      <verifyauth assign_to="authvalid" username="12345" password="s3cret"/>
    </action>
  </recv>
  <nop test="authvalid" next="good"/>
''' + uas_resp(403, "Forbidden") + '''
  <recv request="ACK" next="end"/>
  <label id="good"/>
''' + uas_resp(100, "Trying", tag=False) + UAS_OK.format(port="[rtp_port]") + ACK_CHECK + RECV_BYE + '\n  <label id="end"/>\n')


def info(signal, cseq):
    return f'''
  <send retrans="500">
    <![CDATA[

      INFO [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      {FROM}
      {TO}[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={signal}
      Duration=160

    ]]>
  </send>
  <recv response="200"/>
'''


write("uac_info_dtmf", "Menu flow with DTMF as SIP INFO (application/dtmf-relay): 3, wait, #; the bridge hangs up.",
      invite() + ANSWERED + ack() + '\n  <pause milliseconds="1500"/>\n' + info("3", 2) +
      '\n  <pause milliseconds="1500"/>\n' + info("#", 3) + '''
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
''')
# ---------------- issue 9: UPDATE, a large INVITE (TCP), the queue's call-back offer ------------
write("uac_update", "RFC 3311: after the answer the citizen sends UPDATE with a new SDP offer (media moves to\n     rtp_port2); the 200 must carry an SDP answer. Keys: codecs, rtp_port, rtp_port2.",
      invite() + ANSWERED + ack() + '\n  <pause milliseconds="600"/>\n' + f'''
  <send retrans="500">
    <![CDATA[

      UPDATE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      [routes]
      {FROM}
      {TO}[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 UPDATE
      Contact: <sip:13812345678@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      {sdp(port="[rtp_port2]")}

    ]]>
  </send>
  <recv response="200">
    <action><ereg regexp="m=audio [0-9]+ RTP/AVP" search_in="body" check_it="true" assign_to="u"/></action>
  </recv>
''' + "\n  <pause/>\n" + bye(3))
BIG = "".join(f"X-Carrier-Info-{i:02d}: " + "route=gw%02d.carrier.example;trunk=12345;" % i + "x" * 60 + "\n      "
              for i in range(60))
write("uac_call_big", "A carrier's INVITE with 60 extra headers (about 7 KB, over UDP's safe size): meant for TCP\n     (-t t1). Hangs up after -d ms. Keys: codecs, rtp_port.",
      invite(extra=BIG) + ANSWERED + ack() + "\n  <pause/>\n" + bye())
write("uac_queue_callback", "Queue flow: the wait limit passes, the bridge offers voicemail or a call-back; the citizen\n     presses 2 (call me back) and the bridge says so and hangs up.",
      invite(sdp_body=sdp(port="[media_port]")) + ANSWERED + ack() + '\n  <pause milliseconds="3000"/>\n' + dtmf("2", gap=0) + '''
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
''')
print("scenarios written to", D)
