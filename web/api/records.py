"""Units, callers, callbacks, the knowledge base, calls, operators and the event feed."""
from __future__ import annotations

from hotline.queries import list_callbacks
from hotline.users import Role
from web.api import route
from web.api import schemas as s
from web.auth import current_actor, hotline, roles_required


@route("/units", summary="成员单位列表", tag="directory", query=s.UnitsQuery)
def units(params: s.UnitsQuery):  # noqa: ANN201
    return {"items": [u.as_dict() for u in hotline().directory.units(params.kind)]}


@route("/units/{unit_id}", summary="成员单位", tag="directory")
def unit(unit_id: int):  # noqa: ANN201
    return hotline().directory.unit(unit_id).as_dict()


@route("/callers/{phone}/history", summary="来电人及历史工单（弹屏）", tag="calls")
def caller_history(phone: str):  # noqa: ANN201
    return hotline().queries.caller_history(current_actor(), phone)


@route("/callbacks", summary="回访列表", tag="callbacks", query=s.CallbacksQuery)
def callbacks(params: s.CallbacksQuery):  # noqa: ANN201
    status = [x for x in (params.status or "").split(",") if x] or None
    return list_callbacks(hotline(), current_actor(), status, params.page)


@route("/callbacks/{callback_id}/result", "POST", summary="登记回访结果", tag="callbacks", body=s.CallbackResult)
def callback_result(callback_id: int, data: s.CallbackResult):  # noqa: ANN201
    cb = hotline().tickets.record_callback(current_actor(), callback_id, data.satisfaction.value, data.solved, data.note)
    return {"id": cb.id, "status": cb.status, "satisfaction": cb.satisfaction}


@route("/knowledge", summary="知识库检索", tag="knowledge", query=s.KnowledgeQuery)
def knowledge(params: s.KnowledgeQuery):  # noqa: ANN201
    return {"items": [a.as_dict() for a in hotline().directory.search_articles(params.q or "", params.limit)]}


@route("/events", summary="事件流（断线重连补齐）", tag="events", query=s.EventsQuery)
def events(params: s.EventsQuery):  # noqa: ANN201
    after = params.after
    items = hotline().queries.events_since(current_actor(), after, params.limit)
    return {"items": items, "last_id": items[-1]["id"] if items else after}


@route("/operators", summary="坐席状态", tag="calls")
@roles_required(Role.OPERATOR, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN, Role.EXPERT)
def operators():  # noqa: ANN201
    return {"items": hotline().calls.operator_states()}


@route("/operators/me/state", "POST", summary="设置本人坐席状态", tag="calls", body=s.OperatorStateBody)
def my_state(data: s.OperatorStateBody):  # noqa: ANN201
    actor = current_actor()
    st = hotline().calls.set_state(actor, actor.user_id, data.status)
    return {"user_id": st.user_id, "status": st.status, "since": st.since.isoformat()}


@route("/calls/{call_id}/expert", "POST", summary="邀请专家坐席加入通话（三方通话）", tag="calls", body=s.ExpertJoin,
       status=202)  # fmt: skip
def call_expert(call_id: int, data: s.ExpertJoin):  # noqa: ANN201
    return {"job_id": hotline().calls.request_expert(current_actor(), call_id, data.desk_unit_id)}


@route("/calls/{call_id}/call-back", "POST", summary="漏接回拨", tag="calls", status=202)
def call_back(call_id: int):  # noqa: ANN201
    return {"job_id": hotline().calls.request_call_back(current_actor(), call_id)}


@route("/calls/missed", summary="漏接来电（待回拨）", tag="calls", query=s.MissedQuery)
@roles_required(Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
def missed_calls(params: s.MissedQuery):  # noqa: ANN201
    return {
        "items": [
            {"id": c.id, "number": c.number, "line": c.line, "offered_at": c.offered_at.isoformat(),
             "wait_seconds": c.wait_seconds}
            for c in hotline().calls.missed_calls(params.limit)
        ]
    }  # fmt: skip
