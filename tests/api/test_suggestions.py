"""The classifier inside the hotline: suggestions on intake, merge candidates, history training."""
from __future__ import annotations

import pytest

from hotline import suggestions
from hotline.users import Actor


@pytest.fixture(scope="session")
def demo_model(tmp_path_factory):
    """One model trained from the demo city's templates, shared by the tests (training takes seconds)."""
    from classifier.training import train_from_pairs

    from hotline.demo import training_pairs

    path = tmp_path_factory.mktemp("model") / "unit-classifier.joblib"
    train_from_pairs(training_pairs(), path, folds=2)
    return path


@pytest.fixture
def with_model(hl, demo_model, city, tmp_path):
    import shutil

    hl.settings.model_path = str(shutil.copy(demo_model, tmp_path / "m.joblib"))
    # Units with the demo's codes so labels map to units.
    sysa = Actor.system()
    gas = hl.directory.create_unit(sysa, code="P03", name="青川燃气集团", kind="public_service")
    labour = hl.directory.create_unit(sysa, code="D08", name="市人力资源和社会保障局", kind="department")
    suggestions.attach(hl)
    return gas, labour


def test_ticket_gets_a_suggested_unit(hl, city, with_model):
    gas, labour = with_model
    t = hl.tickets.accept(city.operator, content="幸福家园楼道里有很大的燃气味，怀疑燃气泄漏，请马上派人来")
    assert t.suggested_unit_id == gas.id and t.suggestion_confidence > 0.3
    assert t.suggestion["choices"][0]["unit_name"] == "青川燃气集团"


def test_suggest_and_similar_endpoints(app, login, with_model, city):
    gas, labour = with_model
    op = login("op1")
    r = op.get("/api/v1/suggest", query_string={"text": "包工头拖欠工资三个月不给，请帮忙讨薪"})
    assert r.status_code == 200 and r.json["available"]
    assert r.json["choices"][0]["unit_id"] == labour.id and len(r.json["choices"]) == 3
    assert r.json["keywords"]
    for bad in ("", "!!!", "😀😀", "\x00\x01", "hello world", "字" * 30000):
        r = op.get("/api/v1/suggest", query_string={"text": bad})
        assert r.status_code in (200, 400), r.json
    for other in ("翠湖苑停水一整天了", "公交车不按站停车", "工地夜间施工噪音扰民", "超市卖过期食品", "路灯坏了三天"):
        op.post("/api/v1/tickets", json={"content": other, "area": "城关街道"})
    first = op.post("/api/v1/tickets", json={"content": "人民路井盖丢失，晚上很危险", "area": "城关街道"}).json
    r = op.get("/api/v1/tickets/similar", query_string={"text": "人民路的井盖丢了，很危险", "area": "城关街道"})
    assert [x["id"] for x in r.json["items"]] == [first["id"]] and r.json["items"][0]["score"] > 0.3
    assert op.get("/api/v1/tickets/similar").status_code == 400


def test_without_a_model_the_system_keeps_working(hl, city, tmp_path, caplog):
    hl.settings.model_path = str(tmp_path / "missing.joblib")
    suggestions.attach(hl)
    t = hl.tickets.accept(city.operator, content="路灯不亮")
    assert t.suggested_unit_id is None
    (tmp_path / "missing.joblib").write_bytes(b"garbage")
    assert hl.suggester.suggest("路灯不亮")["available"] is False


def test_history_teaches_the_unit_that_finally_handled(hl, city):
    from classifier.history import training_pairs

    t = city.dispatched(unit=city.roads, content="井盖丢失")
    hl.tickets.return_ticket(city.roads_user, t.id, "属地管理")
    hl.tickets.redispatch(city.supervisor, t.id, city.township.id)
    hl.tickets.sign(city.township_user, t.id)
    hl.tickets.reply(city.township_user, t.id, "已补装")
    hl.tickets.review(city.supervisor, t.id, True)
    hl.tickets.close(city.supervisor, t.id)
    records = suggestions.history_records(hl)
    assert records[0]["history"] == [{"unit": "D02", "returned": True}, {"unit": "T01", "returned": False}]
    assert training_pairs(records) == [("井盖丢失", "T01")]
