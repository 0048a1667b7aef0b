"""Open311 GeoReport v2: what a city's existing Open311 client sends and expects."""
from __future__ import annotations


def test_services_list_units_but_not_expert_desks(app):
    services = app.test_client().get("/open311/v2/services.json").json
    codes = {s["service_code"] for s in services}
    assert {"T01", "D02", "P01"} <= codes and "E01" not in codes
    assert set(services[0]) >= {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}


def test_post_get_and_filter_requests(app, login, city, hl):
    token = login("op1").post("/api/v1/auth/tokens", json={"name": "open311"}).json["token"]
    c = app.test_client()
    r = c.post("/open311/v2/requests.json", data={
        "api_key": token, "service_code": "P01", "description": "解放路自来水管破裂，联系电话13812345678",
        "address_string": "解放路18号", "first_name": "明", "last_name": "王", "phone": "13812345678",
    })  # fmt: skip
    assert r.status_code == 201, r.json
    rid = r.json[0]["service_request_id"]
    assert "工单编号" in r.json[0]["service_notice"]
    one = c.get(f"/open311/v2/requests/{rid}.json").json[0]
    assert one["status"] == "open" and one["service_code"] == "P01" and one["address"] == "解放路18号"
    assert "13812345678" not in one["description"] and "138****5678" in one["description"]
    assert one["requested_datetime"].endswith("+08:00") and "phone" not in one
    # Dispatch and close it inside the center: the public status follows.
    t = hl.queries.get(city.operator, rid)
    assert t["channel"] == "web" and t["suggestion"]["unit_id"] == city.water.id
    hl.tickets.dispatch(city.operator, t["id"], city.water.id)
    one = c.get(f"/open311/v2/requests/{rid}.json").json[0]
    assert one["agency_responsible"] == "青川市自来水公司" and one["expected_datetime"]
    hl.tickets.close_first_contact  # noqa: B018 - dispatched tickets close through the unit
    hl.tickets.sign(city.water_user, t["id"])
    hl.tickets.reply(city.water_user, t["id"], "已抢修完毕")
    hl.tickets.review(city.supervisor, t["id"], True)
    hl.tickets.close(city.supervisor, t["id"])
    one = c.get(f"/open311/v2/requests/{rid}.json").json[0]
    assert one["status"] == "closed" and "已抢修完毕" in one["status_notes"]
    assert [x["service_request_id"] for x in c.get("/open311/v2/requests.json?status=closed").json] == [rid]
    assert c.get("/open311/v2/requests.json?status=open").json == []
    assert len(c.get(f"/open311/v2/requests.json?service_request_id={rid},nope").json) == 1
    assert len(c.get("/open311/v2/requests.json?service_code=P01&start_date=2026-11-01T00:00:00+08:00").json) == 1
    assert c.get("/open311/v2/requests.json?end_date=2026-11-01T00:00:00Z").json == []


def test_confidential_requests_hide_their_description(app, city):
    t = city.new_ticket(confidential=True, content="举报某单位违规")
    one = app.test_client().get(f"/open311/v2/requests/{t.number}.json").json[0]
    assert one["description"] is None


def test_open311_errors(app, login):
    c = app.test_client()
    token = login("op1").post("/api/v1/auth/tokens", json={}).json["token"]
    cases = [
        c.post("/open311/v2/requests.json", data={"service_code": "P01", "description": "x"}),
        c.post("/open311/v2/requests.json", data={"api_key": "bad", "service_code": "P01", "description": "x"}),
        c.post("/open311/v2/requests.json", data={"api_key": token, "service_code": "NOPE", "description": "x"}),
        c.post("/open311/v2/requests.json", data={"api_key": token, "service_code": "E01", "description": "x"}),
        c.post("/open311/v2/requests.json", data={"api_key": token, "service_code": "P01"}),
        c.get("/open311/v2/requests/NOPE.json"),
        c.get("/open311/v2/requests.xml"),
        c.get("/open311/v2/requests.json?start_date=last-week"),
        c.get("/open311/v2/requests.json?status=pending"),
        c.get("/open311/v2/requests.json?page=x"),
    ]
    for r in cases:
        assert 400 <= r.status_code < 500 and r.json["detail"], (r.status_code, r.data[:200])
