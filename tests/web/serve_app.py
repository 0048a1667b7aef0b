"""Serve the web app for the multi-process tests and the benchmark:

    python -m tests.web.serve_app --db sqlite:///x.db --port 5101 [--mq redis://127.0.0.1:6379/0 --channel c]

No demo data and no schema work: the caller prepares the database. ``--channel`` keeps a test run's
pushes apart from anything else using the same Redis.
"""
from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data", default=None)
    p.add_argument("--mq", default=None)
    p.add_argument("--channel", default=None)
    p.add_argument("--secret", default="web-tests-secret")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from hotline.app import Hotline
    from hotline.config import Settings
    from web import create_app, socketio

    s = Settings()
    if args.channel:
        s.socketio_channel = args.channel
    s.database_url = args.db
    s.data_dir = args.data or "/tmp/hotline-serve-app"
    s.secret_key = args.secret
    s.message_queue = args.mq
    s.demo = False
    hl = Hotline(s)
    app = create_app(hl, message_queue=args.mq)
    print(f"serving on {args.port}", flush=True)
    socketio.run(app, host="127.0.0.1", port=args.port, allow_unsafe_werkzeug=True, use_reloader=False, log_output=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
