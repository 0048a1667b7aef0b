"""Files with personal data — the SQLite database, the classifier's model (trained on citizens'
complaints), recordings, the session key — are readable by their owner only.

``secure_umask()`` makes everything a process creates from then on owner-only (0600 files, 0700
folders): every entry point calls it at start-up (``hotline.bootstrap.prepare``, ``web.wsgi``), so a
recording or a model written later inherits it. The SQLite file is also created explicitly 0600, in
whichever process opens it first.
"""
from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077


def secure_umask() -> None:
    os.umask(PRIVATE_UMASK)


def private_dir(path: str | os.PathLike) -> Path:
    """Create a folder (and its missing parents) readable by the owner only; an existing one is kept."""
    p = Path(path)
    if not p.exists():
        p.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(p, 0o700)  # mkdir's mode is filtered by the umask; this is not
    return p


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///…`` URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    raw = url[len("sqlite:///"):].split("?", 1)[0]
    if not raw or raw == ":memory:":
        return None
    return Path(raw)


def prepare_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 (its folder 0700) before SQLite does with the umask's mode.
    SQLite gives its -wal and -shm files the database file's permissions."""
    path = sqlite_path(url)
    if path is None or path.exists():
        return
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)
