"""The JSON API: a ticket walked from acceptance to closing over HTTP, auth, and bad input."""
from __future__ import annotations

import pytest


def test_walk_a_ticket_through_the_api(login, city):
    op, unit, sup = login("op1"), login("t01"), login("sup")
    r = op.post("/api/v1/tickets", json={"content": "人民路路灯不亮", "type": "help", "caller_phone": "13812345678",
                                         "caller_name": "张先生", "area": "城关街道"})
    assert r.status_code == 201, r.json
    t = r.json
    assert t["number"].endswith("-00001") and t["status"] == "accepted"
    r = op.post(f"/api/v1/tickets/{t['id']}/dispatch", json={"unit_id": city.township.id, "version": t["version"]})
    assert r.status_code == 200 and r.json["status"] == "dispatched"
    inbox = unit.get("/api/v1/inbox").json
    assert [x["number"] for x in inbox["items"]] == [t["number"]] and inbox["items"][0]["caller"]["phone"] == "138****5678"
    assert inbox["items"][0]["light"] == "green"
    assert unit.post(f"/api/v1/tickets/{t['id']}/sign", json={}).json["status"] == "signed"
    assert unit.post(f"/api/v1/tickets/{t['id']}/reply", json={"outcome": "已修复"}).json["status"] == "replied"
    assert sup.post(f"/api/v1/tickets/{t['id']}/review", json={"approve": True}).json["status"] == "reviewed"
    assert sup.post(f"/api/v1/tickets/{t['id']}/close", json={}).json["status"] == "closed"
    cbs = op.get("/api/v1/callbacks?status=pending").json["items"]
    assert len(cbs) == 1 and cbs[0]["phone"] == "13812345678"
    r = op.post(f"/api/v1/callbacks/{cbs[0]['id']}/result", json={"satisfaction": "satisfied", "solved": True})
    assert r.status_code == 200
    detail = sup.get(f"/api/v1/tickets/{t['id']}").json
    assert [e["action"] for e in detail["events"]][-1] == "callback" and detail["satisfaction"] == "satisfied"
    assert sup.get(f"/api/v1/tickets/by-number/{t['number']}").json["id"] == t["id"]


def test_token_auth_for_integrations(app, login):
    token = login("op1").post("/api/v1/auth/tokens", json={"name": "wechat"}).json["token"]
    c = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    r = c.post("/api/v1/tickets", json={"content": "公众号留言：路面积水", "channel": "wechat"}, headers=h)
    assert r.status_code == 201 and r.json["channel"] == "wechat"
    assert c.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_session_writes_need_csrf(app, login):
    s = login("op1")
    r = s.client.post("/api/v1/tickets", json={"content": "x"})
    assert r.status_code == 400 and r.json["error"] == "invalid_input" and "CSRF" in r.json["detail"]


def test_roles_and_refusals_are_4xx_with_reasons(login, city):
    op, unit = login("op1"), login("t01")
    t = op.post("/api/v1/tickets", json={"content": "噪音扰民"}).json
    r = unit.post(f"/api/v1/tickets/{t['id']}/dispatch", json={"unit_id": city.township.id})
    assert r.status_code == 403 and r.json["error"] == "forbidden"
    r = op.post(f"/api/v1/tickets/{t['id']}/sign", json={})
    assert r.status_code == 403
    r = op.post(f"/api/v1/tickets/{t['id']}/close", json={})
    assert r.status_code == 403
    login("sup").post(f"/api/v1/tickets/{t['id']}/close", json={})
    r = login("sup").post(f"/api/v1/tickets/{t['id']}/close", json={})
    assert r.status_code == 409 and r.json["error"] == "illegal_step" and "已受理" in r.json["detail"]
    r = op.post(f"/api/v1/tickets/{t['id']}/dispatch", json={"unit_id": city.township.id, "version": 99})
    assert r.status_code == 409 and r.json["error"] == "conflict"
    assert unit.get(f"/api/v1/tickets/{t['id']}").status_code == 403


@pytest.mark.parametrize(
    "method,url,body",
    [
        ("post", "/api/v1/tickets", {}),
        ("post", "/api/v1/tickets", {"content": ""}),
        ("post", "/api/v1/tickets", {"content": "x", "type": "rant"}),
        ("post", "/api/v1/tickets", {"content": "x", "urgency": 3}),
        ("post", "/api/v1/tickets", {"content": "x", "caller_phone": "call me maybe"}),
        ("post", "/api/v1/tickets", {"content": "x", "unknown_field": 1}),
        ("post", "/api/v1/tickets", {"content": "x" * 20001}),
        ("post", "/api/v1/tickets", ["not", "an", "object"]),
        ("post", "/api/v1/tickets", "\x00\xff"),
        ("post", "/api/v1/tickets/1/dispatch", {"unit_id": "abc"}),
        ("post", "/api/v1/tickets/1/dispatch", {"unit_id": 999999}),
        ("post", "/api/v1/tickets/999999/sign", {}),
        ("post", "/api/v1/tickets/1/reject", {"reason": "because"}),
        ("post", "/api/v1/tickets/1/extension", {"days": -1, "reason": "x"}),
        ("post", "/api/v1/tickets/1/review", {"approve": "maybe"}),
        ("post", "/api/v1/callbacks/999/result", {"satisfaction": "meh"}),
        ("post", "/api/v1/operators/me/state", {"status": "asleep"}),
        ("get", "/api/v1/tickets?page=0", None),
        ("get", "/api/v1/tickets?per_page=100000", None),
        ("get", "/api/v1/tickets?status=bogus", None),
        ("get", "/api/v1/tickets?date_from=yesterday", None),
        ("get", "/api/v1/tickets?date_from=2026-12-01&date_to=2026-11-01", None),
        ("get", "/api/v1/tickets?caller_phone=abc", None),
        ("get", "/api/v1/tickets?overdue=perhaps", None),
        ("get", "/api/v1/tickets?nonsense=1", None),
        ("get", "/api/v1/tickets/by-number/nope", None),
        ("get", "/api/v1/callers/xyz/history", None),
        ("get", "/api/v1/events?after=-5", None),
        ("get", "/api/v1/no-such-thing", None),
        ("put", "/api/v1/tickets", None),
    ],
)
def test_bad_input_gets_a_clear_4xx(login, method, url, body):
    s = login("op1")
    if body is None:
        r = getattr(s, method)(url) if method != "put" else s.client.put(url)
    elif isinstance(body, str):
        r = s.post(url, data=body, content_type="application/json")
    else:
        r = getattr(s, method)(url, json=body)
    assert 400 <= r.status_code < 500, (r.status_code, r.data[:300])
    assert set(r.json) >= {"error", "detail"} and r.json["detail"]


def test_list_filters_and_pagination(login, city, hl):
    op = login("op1")
    for i in range(5):
        op.post("/api/v1/tickets", json={"content": f"第{i}件 路灯", "caller_phone": "13900000000"})
    op.post("/api/v1/tickets", json={"content": "水管爆裂", "caller_phone": "13700000000"})
    page = op.get("/api/v1/tickets?per_page=2&page=2").json
    assert page["total"] == 6 and len(page["items"]) == 2 and page["page"] == 2
    assert op.get("/api/v1/tickets?q=水管").json["total"] == 1
    assert op.get("/api/v1/tickets?caller_phone=139-0000-0000").json["total"] == 5
    assert op.get("/api/v1/tickets?status=accepted,dispatched").json["total"] == 6
    assert op.get("/api/v1/tickets?date_from=2026-11-23&date_to=2026-11-23").json["total"] == 6
    assert op.get("/api/v1/tickets?date_from=2026-11-24").json["total"] == 0
    t = op.get("/api/v1/tickets?q=水管").json["items"][0]
    op.post(f"/api/v1/tickets/{t['id']}/dispatch", json={"unit_id": city.water.id})
    hl.clock.advance(days=30)
    assert op.get("/api/v1/tickets?overdue=true").json["total"] == 1
    assert op.get(f"/api/v1/tickets?unit_id={city.water.id}").json["total"] == 1
    hist = op.get("/api/v1/callers/13700000000/history").json
    assert hist["caller"]["known"] and len(hist["tickets"]) == 1


def test_openapi_and_health(app):
    c = app.test_client()
    spec = c.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.") and "/api/v1/tickets/{ticket_id}/dispatch" in spec["paths"]
    assert "Dispatch" in spec["components"]["schemas"]
    assert c.get("/healthz").json["status"] == "ok"


def test_knowledge_search(login, hl, city):
    from hotline.users import Actor

    hl.directory.add_article(Actor.system(), title="社保卡挂失", body="拨打12333或在App挂失", tags="社保卡")
    items = login("op1").get("/api/v1/knowledge?q=社保卡").json["items"]
    assert items and items[0]["title"] == "社保卡挂失"
    assert login("op1").get("/api/v1/knowledge?q=100%_").json["items"] == []


def test_call_endpoints(login, city, hl):
    op = login("op1")
    call_id = hl.calls.offered("13900001234", bridge_id="b1")
    hl.calls.queued(call_id)
    hl.calls.ended(call_id, "abandoned")
    assert [c["id"] for c in op.get("/api/v1/calls/missed").json["items"]] == [call_id]
    assert op.post(f"/api/v1/calls/{call_id}/call-back").status_code == 202
    assert op.post(f"/api/v1/calls/{call_id}/expert", json={"desk_unit_id": city.legal.id}).status_code == 409
    assert login("t01").post(f"/api/v1/calls/{call_id}/call-back").status_code == 403
    assert op.post("/api/v1/calls/424242/call-back").status_code == 409
