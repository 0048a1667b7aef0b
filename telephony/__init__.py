"""SIP bridge of the 12345 hotline.

``telephony`` answers calls, runs the IVR, queues callers for operators, relays audio and places
outbound calls. It talks to the hotline core only through the small protocols in
:mod:`telephony.ports`; :mod:`telephony.memory` implements them without a database for tests and
:mod:`telephony.hotline_adapter` maps them onto ``hotline``.

Entry point for ``run.py``: :func:`telephony.bridge.start_bridge`.
"""
