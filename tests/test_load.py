"""Twenty staff at once against ``python run.py`` for a short while, on the SQLite default and on
PostgreSQL: no request may fail with a server error or time out (issue 15). Times are measured by
``bench/load_bench.py``, not asserted here."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("load_bench", ROOT / "bench" / "load_bench.py")
load_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(load_bench)

SECONDS = float(os.environ.get("HOTLINE_LOAD_TEST_SECONDS", "20"))
DATABASES = [d for d in os.environ.get("HOTLINE_TEST_DATABASES", "sqlite,postgres").split(",") if d]


@pytest.mark.slow
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_twenty_staff_at_once_get_no_server_error(database):
    if database not in DATABASES:
        pytest.skip(f"{database} not in HOTLINE_TEST_DATABASES")
    server = load_bench.Server(database, extra_env={"HOTLINE_DEMO_TICKETS": "120"})
    try:
        run = load_bench.run_load(server.base, staff=20, seconds=SECONDS, timeout=30)
        log = server.log_text()
    finally:
        server.stop()
    assert run["requests"] > 100, run
    assert run["server_errors"] == 0, run["server_error_samples"]
    assert run["client_errors"] == 0, run["client_error_samples"]  # no timeouts, no dropped connections
    assert set(run["by_kind"]) >= {"create", "dispatch", "sign", "reply", "inbox", "review", "close"}
    assert "Traceback" not in log and "database is locked" not in log
