"""The 12345 hotline domain: tickets, their workflow, deadlines, calls and callbacks.

Nothing in this package imports Flask, Socket.IO or pyVoIP: the web layer, the SIP bridge and the
scheduler call the service layer (:mod:`hotline.app`) and subscribe to its domain events.
"""
