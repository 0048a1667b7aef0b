"""The production WSGI entry: one web process per gunicorn master, many threads.

    gunicorn -w 1 --threads 100 -b 127.0.0.1:5001 'web.wsgi:app'

Flask-SocketIO runs in threading mode with simple-websocket, which works under gunicorn's gthread
worker; keep one worker per gunicorn process (Socket.IO's sessions live in the process) and run
several processes behind a reverse proxy with sticky sessions, sharing HOTLINE_MESSAGE_QUEUE.

Configuration comes from the environment, as for ``python run.py web`` (DATABASE_URL,
HOTLINE_DATA_DIR, HOTLINE_MESSAGE_QUEUE, HOTLINE_SECRET_KEY, …). The schema is not touched here:
run ``python run.py db upgrade`` once before starting the workers. Like ``run.py web`` this process
gives unit suggestions from the trained model but neither trains one nor runs the scheduler or the
SIP bridge.
"""
from __future__ import annotations

from hotline import suggestions
from hotline.app import Hotline
from hotline.callers import install_log_masking
from hotline.files import secure_umask
from web import create_app

install_log_masking()  # phone numbers never reach a log in clear, under gunicorn's handlers too
secure_umask()  # what this worker writes (the SQLite file, a session key) is owner-only

hl = Hotline.from_env()
suggestions.attach(hl)
app = create_app(hl)
