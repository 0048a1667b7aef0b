"""Tickets: list, create, read, and one POST per workflow step."""
from __future__ import annotations

from typing import Any

from hotline.errors import InvalidInput
from hotline.queries import TicketFilter
from web.api import route, version_of
from web.api import schemas as s
from web.auth import current_actor, hotline


def _view(ticket_id: int) -> dict[str, Any]:
    return hotline().queries.get(current_actor(), ticket_id)


@route("/tickets", summary="工单列表（分页与筛选）", tag="tickets", query=s.TicketQuery)
def list_tickets(params: s.TicketQuery):  # noqa: ANN201
    f = TicketFilter(
        status=[x for x in (params.status or "").split(",") if x] or None,
        unit_id=params.unit_id, overdue=params.overdue, date_from=params.date_from, date_to=params.date_to,
        caller_phone=params.caller_phone, text=params.q,
        type=params.type.value if params.type else None, urgency=params.urgency.value if params.urgency else None,
        master_id=params.master_id, expert_unit_id=params.expert_unit_id, pending_extension=params.pending_extension,
        page=params.page, per_page=params.per_page, order=params.order,
    )  # fmt: skip
    return hotline().queries.list(current_actor(), f)


@route("/tickets", "POST", summary="受理新工单", tag="tickets", body=s.TicketCreate, status=201)
def create_ticket(data: s.TicketCreate):  # noqa: ANN201
    if data.call_id is not None and hotline().calls.get(data.call_id) is None:
        raise InvalidInput("来电记录不存在", field="call_id")
    t = hotline().tickets.accept(current_actor(), **data.model_dump(mode="json"))
    return _view(t.id)


@route("/tickets/{ticket_id}", summary="工单详情（含流转记录）", tag="tickets")
def get_ticket(ticket_id: int):  # noqa: ANN201
    return hotline().queries.get(current_actor(), ticket_id, with_events=True)


@route("/tickets/by-number/{number}", summary="按编号查工单", tag="tickets")
def get_ticket_by_number(number: str):  # noqa: ANN201
    return hotline().queries.get(current_actor(), number, with_events=True)


@route("/tickets/{ticket_id}/events", summary="工单流转日志（只增不改）", tag="tickets")
def ticket_events(ticket_id: int):  # noqa: ANN201
    return {"items": hotline().queries.events(current_actor(), ticket_id)}


@route("/tickets/{ticket_id}", "PATCH", summary="修改受理信息（派单前）", tag="tickets", body=s.TicketAmend)
def amend_ticket(ticket_id: int, data: s.TicketAmend):  # noqa: ANN201
    fields = data.model_dump(mode="json", exclude_unset=True, exclude={"version"})
    hotline().tickets.amend(current_actor(), ticket_id, version_of(data), **fields)
    return _view(ticket_id)


def _step(path: str, summary: str, body: type, call) -> None:  # noqa: ANN001
    """One POST route per workflow step: the view is the same shape for all of them."""

    def view(ticket_id: int, data):  # noqa: ANN001, ANN202
        call(hotline().tickets, current_actor(), ticket_id, data, version_of(data))
        return _view(ticket_id)

    view.__name__ = "step_" + path.replace("-", "_").replace("/", "_")
    route(f"/tickets/{{ticket_id}}/{path}", "POST", summary=summary, tag="workflow", body=body)(view)


_step("close-first-contact", "直接办结", s.Answer, lambda t, a, i, d, v: t.close_first_contact(a, i, d.answer, v))
_step("reject", "不予受理", s.Reject, lambda t, a, i, d, v: t.reject(a, i, d.reason.value, d.note, v))
_step("transfer-to-expert", "转专家坐席", s.ToExpert,
      lambda t, a, i, d, v: t.transfer_to_expert(a, i, d.desk_unit_id, d.note, v))  # fmt: skip
_step("hand-back", "专家退回话务", s.RequiredNote, lambda t, a, i, d, v: t.hand_back(a, i, d.note, v))
_step("dispatch", "派单（主办+协办）", s.Dispatch, lambda t, a, i, d, v: t.dispatch(a, i, d.unit_id, d.co_unit_ids, d.note, v))
_step("redispatch", "改派", s.Dispatch, lambda t, a, i, d, v: t.redispatch(a, i, d.unit_id, d.co_unit_ids, d.note, v))
_step("sign", "签收", s.Versioned, lambda t, a, i, d, v: t.sign(a, i, v))
_step("return", "退单", s.Reason, lambda t, a, i, d, v: t.return_ticket(a, i, d.reason, v))
_step("extension", "申请延期", s.Extension, lambda t, a, i, d, v: t.request_extension(a, i, d.days, d.reason, v))
_step("extension/approve", "同意延期", s.Note, lambda t, a, i, d, v: t.approve_extension(a, i, d.note, v))
_step("extension/refuse", "不同意延期", s.Reason, lambda t, a, i, d, v: t.refuse_extension(a, i, d.reason, v))
_step("press", "督办/催办", s.Press, lambda t, a, i, d, v: t.press(a, i, d.note, d.escalate, v))
_step("reply", "回复办理结果", s.Reply, lambda t, a, i, d, v: t.reply(a, i, d.outcome, v))
_step("review", "审核", s.Review, lambda t, a, i, d, v: t.review(a, i, d.approve, d.note, v))
_step("close", "办结", s.Note, lambda t, a, i, d, v: t.close(a, i, d.note, v))
_step("reopen", "重办", s.Reason, lambda t, a, i, d, v: t.reopen(a, i, d.reason, v))
_step("merge", "并单（并入主案）", s.Merge, lambda t, a, i, d, v: t.merge(a, i, d.master_id, d.note, v))
_step("split", "拆单", s.RequiredNote, lambda t, a, i, d, v: t.split(a, i, d.note, v))


@route("/suggest", summary="派单建议（分类模型）", tag="tickets", query=s.SuggestQuery)
def suggest(params: s.SuggestQuery):  # noqa: ANN201
    current_actor()
    suggester = hotline().suggester
    if suggester is None or not hasattr(suggester, "suggest"):
        return {"available": False, "unsure": True, "choices": [], "keywords": [], "reason": "暂无可用模型"}
    return suggester.suggest(params.text)


@route("/tickets/similar", summary="相似未办结工单（并单候选）", tag="tickets", query=s.SimilarQuery)
def similar(params: s.SimilarQuery):  # noqa: ANN201
    from hotline.suggestions import similar_open_tickets

    items = similar_open_tickets(hotline(), current_actor(), params.text, params.area, params.days,
                                 params.limit, params.exclude)  # fmt: skip
    return {"items": items}


@route("/inbox", summary="成员单位待办（按时限排序）", tag="tickets")
def inbox():  # noqa: ANN201
    return hotline().queries.inbox(current_actor())
