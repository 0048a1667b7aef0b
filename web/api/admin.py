"""Administration: units, users, calendar overrides, the classifier's label map."""
from __future__ import annotations

from pathlib import Path

from hotline.errors import InvalidInput
from hotline.users import Role
from web.api import route
from web.api import schemas as s
from web.auth import current_actor, hotline, roles_required


@route("/units", "POST", summary="新增成员单位", tag="admin", body=s.UnitCreate, status=201)
def create_unit(data: s.UnitCreate):  # noqa: ANN201
    return hotline().directory.create_unit(current_actor(), **data.model_dump()).as_dict()


@route("/users", summary="用户列表", tag="admin")
@roles_required(Role.ADMIN)
def list_users():  # noqa: ANN201
    return {"items": [u.as_dict() for u in hotline().directory.users()]}


@route("/users", "POST", summary="新增用户", tag="admin", body=s.UserCreate, status=201)
def create_user(data: s.UserCreate):  # noqa: ANN201
    return hotline().directory.create_user(current_actor(), **data.model_dump()).as_dict()


@route("/calendar/overrides", summary="本地工作日调整", tag="admin")
def calendar_overrides():  # noqa: ANN201
    return {"items": [{"day": o.day.isoformat(), "is_workday": o.is_workday, "note": o.note}
                      for o in hotline().directory.calendar_overrides()]}  # fmt: skip


@route("/calendar/overrides", "PUT", summary="设置某日是否工作日", tag="admin", body=s.CalendarOverrideBody)
def set_calendar_override(data: s.CalendarOverrideBody):  # noqa: ANN201
    hotline().directory.set_calendar_override(current_actor(), data.day, data.is_workday, data.note)
    return {"day": data.day.isoformat(), "is_workday": data.is_workday, "note": data.note}


def _label_map_path() -> Path:
    return Path(hotline().settings.data_dir) / "label_map.json"


@route("/classifier/label-map", summary="模型标签与单位的对应", tag="admin")
@roles_required(Role.ADMIN, Role.SUPERVISOR)
def get_label_map():  # noqa: ANN201
    from classifier.history import LabelMap

    try:
        return {"mapping": LabelMap.load(_label_map_path()).mapping}
    except ValueError as e:
        return {"mapping": {}, "warning": str(e)}


@route("/classifier/label-map", "PUT", summary="修改模型标签与单位的对应", tag="admin", body=s.LabelMapBody)
@roles_required(Role.ADMIN)
def put_label_map(data: s.LabelMapBody):  # noqa: ANN201
    from classifier.history import LabelMap

    known = {u.code for u in hotline().directory.units(active_only=False)}
    unknown = sorted({v for v in data.mapping.values() if v not in known})
    if unknown:
        raise InvalidInput(f"单位编码不存在：{', '.join(unknown[:10])}", field="mapping")
    LabelMap(data.mapping).save(_label_map_path())
    return {"mapping": data.mapping}
