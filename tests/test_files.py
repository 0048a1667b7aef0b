"""HOTLINE_DATA_DIR holds the SQLite database too, and what holds personal data is owner-only."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _env(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HOTLINE_MODEL_PATH")}
    env.update(HOTLINE_DATA_DIR=str(data), HOTLINE_DEMO="0", HOTLINE_MESSAGE_QUEUE="")
    return env


def test_the_database_lives_in_the_data_dir_and_is_owner_only(tmp_path):
    data = tmp_path / "data"
    out = subprocess.run([sys.executable, "run.py", "db", "upgrade"], cwd=ROOT, env=_env(data), capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    db = data / "hotline.db"
    assert db.exists(), list(data.iterdir())
    assert _mode(db) == 0o600 and _mode(data) == 0o700
    for extra in data.glob("hotline.db-*"):  # WAL and shared-memory files follow the database's mode
        assert _mode(extra) & 0o077 == 0, extra


def test_model_recordings_and_session_key_are_owner_only(tmp_path):
    data = tmp_path / "data"
    script = """
import os, sys
from hotline.bootstrap import prepare
from hotline.config import Settings
from hotline.app import Hotline
from hotline import suggestions
from web import create_app
s = Settings.from_env()
prepare(s)
hl = Hotline(s)
suggestions.ensure_first_model(hl)          # the classifier's model, trained on complaints
create_app(hl)                              # the session key
os.makedirs(os.path.join(s.data_dir, "voicemail"), exist_ok=True)   # as the SIP bridge makes it
open(os.path.join(s.data_dir, "voicemail", "x.wav"), "wb").write(b"RIFF")
print(s.model_path)
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(data), capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    model = Path(out.stdout.strip().splitlines()[-1])
    assert model.exists() and str(model).startswith(str(data))
    assert _mode(model) == 0o600 and _mode(model.parent) == 0o700
    for report in model.parent.glob("*.json"):
        assert _mode(report) == 0o600, report
    assert _mode(data / "secret_key") == 0o600
    assert _mode(data / "voicemail") == 0o700 and _mode(data / "voicemail" / "x.wav") == 0o600


def test_settings_derive_the_database_from_the_data_dir(tmp_path):
    from hotline.config import Settings

    s = Settings.from_env({"HOTLINE_DATA_DIR": str(tmp_path)})
    assert s.database_url == f"sqlite:///{tmp_path / 'hotline.db'}"
    assert Settings.from_env({"HOTLINE_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql+psycopg://x/y"}).database_url \
        == "postgresql+psycopg://x/y"
