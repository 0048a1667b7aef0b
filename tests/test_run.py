"""The two commands: `python run.py` on a fresh data folder brings up the demo center, and a user
logs in through the API and walks a ticket from acceptance to closing."""
from __future__ import annotations

import os
import re
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


def run_py(*args: str, env: dict | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_help_lists_the_subcommands():
    out = run_py("--help")
    assert out.returncode == 0
    for cmd in ("serve", "web", "db", "demo", "user", "classifier", "sip", "scheduler", "report"):
        assert cmd in out.stdout


def test_every_subcommand_has_its_own_help_with_a_description():
    for cmd in ("serve", "web", "demo", "sip", "scheduler", "db", "user", "report"):
        out = run_py(cmd, "--help")
        assert out.returncode == 0, (cmd, out.stderr)
        usage, _, rest = out.stdout.partition("\n\n")
        assert rest.split("\n\n")[0].strip() and not rest.startswith("options"), f"{cmd} --help has no description"
    out = run_py("classifier", "--help")  # was: unrecognized arguments: --help
    assert out.returncode == 0 and "train" in out.stdout, out.stderr


def test_port_and_host_work_after_the_subcommand_too():
    sys.path.insert(0, str(ROOT))
    import run

    parser = run.build_parser()
    for argv in (["web", "--port", "5001"], ["--port", "5001", "web"], ["serve", "--port", "5001", "--host", "0.0.0.0"]):
        args = parser.parse_args(argv)
        assert args.port == 5001, argv
    assert parser.parse_args(["--port", "5002", "web", "--port", "5001"]).port == 5001
    assert parser.parse_args(["web"]).port == 5000


def test_a_busy_port_is_named_clearly_before_anything_starts(tmp_path):
    env = dict(os.environ, HOTLINE_DATA_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/h.db",
               HOTLINE_MESSAGE_QUEUE="")  # fmt: skip
    with socket.socket() as web:
        web.bind(("127.0.0.1", 0))
        web.listen()
        port = web.getsockname()[1]
        out = run_py("--port", str(port), env=dict(env, HOTLINE_SIP_LISTEN=f"127.0.0.1:{free_port()}"))
    assert out.returncode == 1
    assert f"127.0.0.1:{port} 已被占用" in out.stderr and "--port" in out.stderr
    assert "Traceback" not in out.stderr + out.stdout and "已启动" not in out.stdout
    assert not (tmp_path / "h.db").exists()  # nothing was started or written
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sip:
        sip.bind(("127.0.0.1", 0))
        sip_port = sip.getsockname()[1]
        out = run_py("--port", str(free_port()), env=dict(env, HOTLINE_SIP_LISTEN=f"127.0.0.1:{sip_port}"))
    assert out.returncode == 1 and f"SIP 端口 127.0.0.1:{sip_port} 已被占用" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr + out.stdout and "已启动" not in out.stdout


def test_a_database_that_does_not_exist_gives_one_clear_line(tmp_path):
    url = "postgresql+psycopg://postgres:secret@127.0.0.1:5432/hotline_no_such_db"
    out = run_py("--port", str(free_port()), env=dict(os.environ, DATABASE_URL=url, HOTLINE_DATA_DIR=str(tmp_path),
                                                       HOTLINE_SIP_LISTEN=f"127.0.0.1:{free_port()}"))  # fmt: skip
    assert out.returncode == 1
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("启动失败：无法连接数据库"), out.stderr
    assert "hotline_no_such_db" in lines[0] and "secret" not in lines[0]


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
        _wait_healthy(base, proc, tmp_path / "run.log")
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
        # The summary counts what was written (the ticket made above is one more).
        assert "已建立 94 个单位、104 个用户" in output
        assert re.search(r"已生成 (\d+) 张演示工单", output).group(1) == str(demo["total"] - 1)
        # Log lines carry the center's time zone (HOTLINE_TZ, default Asia/Shanghai), like the API.
        assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+0800 INFO ", output, re.M), output[:2000]
    finally:
        _stop(proc)
        log.close()
    # A restart on the same folder writes nothing again, and prints where the logins are.
    with open(tmp_path / "run2.log", "w") as log2:
        proc = subprocess.Popen([sys.executable, "run.py", "--port", str(port)], cwd=ROOT, env=env, stdout=log2,
                                stderr=subprocess.STDOUT)
        try:
            _wait_healthy(base, proc, tmp_path / "run2.log")
            again = (tmp_path / "run2.log").read_text()
            assert "首次启动" not in again and "演示数据已存在" in again and "op1" in again
        finally:
            _stop(proc)


def _wait_healthy(base: str, proc: subprocess.Popen, log_path: Path) -> None:
    for _ in range(240):
        try:
            if requests.get(base + "/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert proc.poll() is None, log_path.read_text()
        time.sleep(0.5)
    raise AssertionError("the server did not come up: " + log_path.read_text()[-3000:])


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
