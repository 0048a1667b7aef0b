"""The two commands: `python run.py` on a fresh data folder brings up the demo center, and a user
logs in through the API and walks a ticket from acceptance to closing."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_lists_the_subcommands():
    out = subprocess.run([sys.executable, "run.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for cmd in ("serve", "web", "db", "demo", "user"):
        assert cmd in out.stdout


def test_run_py_starts_the_demo_center(tmp_path):
    port = free_port()
    env = dict(os.environ, HOTLINE_DATA_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/hotline.db",
               HOTLINE_SIP_LISTEN=f"127.0.0.1:{free_port()}", HOTLINE_MESSAGE_QUEUE="", PYTHONUNBUFFERED="1")
    env.pop("REDIS_URL", None)
    log = open(tmp_path / "run.log", "w")
    proc = subprocess.Popen([sys.executable, "run.py", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert proc.poll() is None, (tmp_path / "run.log").read_text()
            time.sleep(0.5)
        output = (tmp_path / "run.log").read_text()
        assert "demo12345" in output and "op1" in output  # the logins are printed
        s = {name: requests.Session() for name in ("op1", "t01", "super1")}
        csrf = {}
        for name, sess in s.items():
            r = sess.post(base + "/api/v1/auth/login", json={"username": name, "password": "demo12345"})
            assert r.status_code == 200
            csrf[name] = {"X-CSRFToken": r.json()["csrf_token"]}
        units = s["op1"].get(base + "/api/v1/units?kind=township").json()["items"]
        t01 = next(u for u in units if u["code"] == "T01")
        t = s["op1"].post(base + "/api/v1/tickets", headers=csrf["op1"], json={
            "content": "城关街道人民路井盖缺失", "caller_phone": "13812345678", "area": "城关街道"}).json()
        steps = [
            ("op1", "dispatch", {"unit_id": t01["id"]}), ("t01", "sign", {}), ("t01", "reply", {"outcome": "已补装井盖"}),
            ("super1", "review", {"approve": True}), ("super1", "close", {}),
        ]
        for who, step, body in steps:
            r = s[who].post(f"{base}/api/v1/tickets/{t['id']}/{step}", headers=csrf[who], json=body)
            assert r.status_code == 200, r.text
        assert r.json()["status"] == "closed"
        assert "13812345678" not in (tmp_path / "run.log").read_text()  # numbers never reach the log
        demo = s["super1"].get(base + "/api/v1/tickets?per_page=1").json()
        assert demo["total"] > 300
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
