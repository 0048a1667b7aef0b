"""The manager's report page, its Excel/PDF exports and the JSON API."""
from __future__ import annotations

import io

import pytest

from tests.core.conftest import PASSWORD
from tests.scheduler.test_rates import build


@pytest.fixture
def client(city, clock, settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("web checks run once, on SQLite")
    from web import create_app

    build(city, clock)
    app = create_app(city.hl, testing=True)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def login(client, username):
    r = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.get_data(as_text=True)


def test_daily_page_shows_every_rate_with_numerator_and_denominator(client):
    login(client, "mgr")
    r = client.get("/reports/daily?date=2026-11-23")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    for label in ("接通率", "15秒接通率", "办结率", "按时办结率", "回访率", "满意率", "响应率", "解决率", "直接办结率"):
        assert label in html
    assert 'data-rate="connection_rate"' in html and ">75.00%<" in html
    assert 'id="unit-ranking"' in html and "城关街道" in html and 'id="trend-chart"' in html
    assert "echarts.common.min.js" in html
    assert client.get("/reports/monthly?month=2026-11").status_code == 200


def test_excel_and_pdf_exports(client):
    from openpyxl import load_workbook

    login(client, "mgr")
    r = client.get("/reports/daily.xlsx?date=2026-11-23")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["指标"]
    rows = {row[1]: row for row in ws.iter_rows(min_row=5, values_only=True) if row[1]}
    assert rows["connection_rate"][2:5] == (3, 4, 0.75)
    assert rows["response_rate"][2:5] == (2, 4, 0.5)
    assert rows["callback_rate"][2:5] == (0, 0, None)
    assert {"单位排名", "话务员", "趋势"} <= set(wb.sheetnames)
    r = client.get("/reports/daily.pdf?date=2026-11-23")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")


def test_api_and_roles(client):
    login(client, "mgr")
    j = client.get("/api/v1/reports/daily?date=2026-11-23").get_json()
    assert j["rates"]["completion_rate"] == {"numerator": 4, "denominator": 5, "value": 0.8}
    j = client.get("/api/v1/reports/range?from=2026-11-23&to=2026-11-24").get_json()
    assert j["rates"]["on_time_completion_rate"]["numerator"] == 3
    j = client.get("/api/v1/reports/trend?from=2026-11-23&to=2026-11-24").get_json()
    assert len(j["days"]) == 2
    assert client.post("/api/v1/reports/snapshots/2026-11-23").get_json()["rows"] > 0
    j = client.get("/api/v1/reports/snapshots?from=2026-11-23&to=2026-11-23").get_json()
    assert j["days"][0]["rates"]["connection_rate"]["numerator"] == 3
    assert client.get("/api/v1/reports/range?from=2026-11-24&to=2026-11-23").status_code == 400
    client.post("/api/v1/auth/logout")
    login(client, "t01")  # a member unit reads no center report
    assert client.get("/api/v1/reports/daily?date=2026-11-23").status_code == 403
    assert client.get("/reports/daily?date=2026-11-23").status_code == 403
