"""Callers' privacy over the API: no number oracle for units and managers, every text they (and the
public) read masked, the caller of a confidential ticket hidden everywhere."""
from __future__ import annotations

import json

import pytest

NUMBER = "13900001313"


def _text(obj) -> str:
    return json.dumps(obj, ensure_ascii=False)


def _digits(obj) -> str:
    return "".join(c for c in _text(obj) if c.isdigit() or c == "\n")


def test_units_and_managers_cannot_search_by_caller_number(login, city):
    city.dispatched(caller_phone=NUMBER)
    for who in ("t01", "mgr"):
        r = login(who).get(f"/api/v1/tickets?caller_phone={NUMBER}")
        assert r.status_code == 403 and r.json["error"] == "forbidden", r.json
        assert login(who).get("/api/v1/tickets?caller_phone=13900009999").status_code == 403
    for who in ("op1", "sup", "admin"):
        assert login(who).get(f"/api/v1/tickets?caller_phone={NUMBER}").json["total"] == 1


@pytest.mark.parametrize("q", [NUMBER, "1390000", "0000131", "139-0000-1313", "电话13900001313"])
def test_text_search_is_no_number_oracle(login, city, q):
    t = city.dispatched(confidential=True, content=f"举报某单位违规，联系人电话{NUMBER}", caller_phone=NUMBER)
    for who in ("t01", "mgr"):
        assert login(who).get("/api/v1/tickets", query_string={"q": q}).json["total"] == 0
        # Text without digits and the ticket number still find it.
        assert login(who).get("/api/v1/tickets", query_string={"q": "举报某单位"}).json["total"] == 1
        assert login(who).get("/api/v1/tickets", query_string={"q": t.number}).json["total"] == 1
    if q != "139-0000-1313":
        assert login("op1").get("/api/v1/tickets", query_string={"q": q}).json["total"] == 1


def test_numbers_in_every_text_are_masked_outside_the_center(login, city, hl):
    t = city.new_ticket(content="楼下烧烤店油烟，请回电 139-0000-1313", title="油烟扰民 0571-88886666",
                        address="幸福路8号 联系人电话+86 139 0000 1313")
    hl.tickets.dispatch(city.operator, t.id, city.township.id, note="联系人13900001313，尽快处理")
    hl.tickets.sign(city.township_user, t.id)
    hl.tickets.request_extension(city.township_user, t.id, 3, "需联系13900001313现场核实")
    hl.tickets.reply(city.township_user, t.id, "已与13900001313沟通并处理")
    unit, mgr, op = login("t01"), login("mgr"), login("op1")
    for s in (unit, mgr):
        for url in (f"/api/v1/tickets/{t.id}", f"/api/v1/tickets/{t.id}/events", "/api/v1/tickets", "/api/v1/events?after=0"):
            body = s.get(url).json
            assert "00001313" not in _digits(body) and "88886666" not in _digits(body), (url, _text(body)[:2000])
        detail = s.get(f"/api/v1/tickets/{t.id}").json
        assert "139****1313" in detail["content"] and "057*****6666" in detail["title"]
        assert "139****1313" in detail["address"]
    full = op.get(f"/api/v1/tickets/{t.id}").json
    assert "139-0000-1313" in full["content"] and any("13900001313" in (e["note"] or "") for e in full["events"])


def test_similar_tickets_mask_titles_for_units(login, city, hl):
    city.dispatched(title="井盖缺失 13900001313", content="人民路井盖缺失很危险")
    items = login("t01").get("/api/v1/tickets/similar", query_string={"text": "人民路井盖缺失很危险"}).json["items"]
    assert "00001313" not in _digits(items)


def test_confidential_callers_are_hidden_from_managers_callback_list(login, city, hl):
    t = city.closed(confidential=True, caller_phone=NUMBER)
    plain = city.closed(caller_phone="13812345678")
    items = {c["ticket_id"]: c for c in login("mgr").get("/api/v1/callbacks").json["items"]}
    assert items[t.id]["phone"] is None and items[t.id]["confidential"]
    assert items[plain.id]["phone"] == "138****5678"
    assert NUMBER not in _text(items) and "00001313" not in _digits(items)
    ops = {c["ticket_id"]: c for c in login("op1").get("/api/v1/callbacks").json["items"]}
    assert ops[t.id]["phone"] == NUMBER  # the center still calls the caller back


def test_open311_masks_numbers_in_the_address_and_notes(app, city, hl):
    t = city.new_ticket(address="幸福路8号 联系人电话13900001313", content="路灯不亮 0571-88886666")
    one = app.test_client().get(f"/open311/v2/requests/{t.number}.json").json[0]
    assert one["address"] == "幸福路8号 联系人电话139****1313"
    listed = app.test_client().get("/open311/v2/requests.json").json
    assert "00001313" not in _digits(listed) and "88886666" not in _digits(listed)
