from __future__ import annotations


def test_admin_manages_units_users_calendar_and_label_map(login, city, hl):
    admin, op = login("admin"), login("op1")
    r = admin.post("/api/v1/units", json={"code": "D99", "name": "市数据局", "kind": "department"})
    assert r.status_code == 201 and r.json["code"] == "D99"
    assert admin.post("/api/v1/units", json={"code": "D99", "name": "重复", "kind": "department"}).status_code == 409
    assert op.post("/api/v1/units", json={"code": "D98", "name": "x", "kind": "department"}).status_code == 403
    r = admin.post("/api/v1/users", json={"username": "d99", "password": "password99", "display_name": "数据局",
                                          "role": "unit", "unit_id": r.json["id"]})
    assert r.status_code == 201
    assert admin.post("/api/v1/users", json={"username": "x", "password": "short", "display_name": "x",
                                             "role": "unit"}).status_code == 400
    assert any(u["username"] == "d99" for u in admin.get("/api/v1/users").json["items"])
    assert op.get("/api/v1/users").status_code == 403
    r = admin.client.put("/api/v1/calendar/overrides", json={"day": "2026-11-24", "is_workday": False, "note": "台风"},
                         headers={"X-CSRFToken": admin.csrf})
    assert r.status_code == 200 and not hl.calendar.is_workday(__import__("datetime").date(2026, 11, 24))
    r = admin.client.put("/api/v1/classifier/label-map", json={"mapping": {"城乡建设": "D99"}},
                         headers={"X-CSRFToken": admin.csrf})
    assert r.status_code == 200
    assert admin.get("/api/v1/classifier/label-map").json["mapping"] == {"城乡建设": "D99"}
    r = admin.client.put("/api/v1/classifier/label-map", json={"mapping": {"x": "NOPE"}}, headers={"X-CSRFToken": admin.csrf})
    assert r.status_code == 400
