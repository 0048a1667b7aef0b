"""Request bodies and query strings of the JSON API, validated with pydantic.

The same models feed the OpenAPI document, so what is documented is what is checked.
"""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from hotline.tickets import Channel, RejectReason, Satisfaction, TicketType, Urgency


# Every integer the API takes fits the database's 64-bit columns: a larger one is a 400, never an
# overflow inside the database driver (a 500).
INT64_MAX = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=INT64_MAX)]
Version = Annotated[int, Field(ge=0, le=INT64_MAX)]
MAX_PAGE_NUMBER = 100_000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Versioned(Body):
    version: Version | None = Field(None, description="The ticket version the client saw; a stale one gives 409 conflict")


class Login(Body):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=1, max_length=200)


class TokenRequest(Body):
    name: str = Field("api", max_length=100)
    user_id: Id | None = None


class TicketCreate(Body):
    content: str = Field(..., min_length=1, max_length=20000, description="诉求内容")
    type: TicketType = TicketType.HELP
    channel: Channel = Channel.PHONE
    line: str = Field("12345", max_length=16)
    urgency: Urgency = Urgency.NORMAL
    green_channel: bool = False
    confidential: bool = False
    caller_phone: str | None = Field(None, max_length=32)
    caller_name: str | None = Field(None, max_length=64)
    area: str | None = Field(None, max_length=100)
    address: str | None = Field(None, max_length=255)
    title: str | None = Field(None, max_length=200)
    call_id: Id | None = None


class TicketAmend(Versioned):
    type: TicketType | None = None
    urgency: Urgency | None = None
    green_channel: bool | None = None
    confidential: bool | None = None
    area: str | None = Field(None, max_length=100)
    address: str | None = Field(None, max_length=255)
    title: str | None = Field(None, max_length=200)
    content: str | None = Field(None, max_length=20000)


class Answer(Versioned):
    answer: str = Field(..., min_length=1, max_length=5000)


class Reject(Versioned):
    reason: RejectReason
    note: str | None = Field(None, max_length=5000)


class Dispatch(Versioned):
    unit_id: Id
    co_unit_ids: list[Id] = Field(default_factory=list, max_length=20)
    note: str | None = Field(None, max_length=5000)


class ToExpert(Versioned):
    desk_unit_id: Id
    note: str | None = Field(None, max_length=5000)


class Note(Versioned):
    note: str | None = Field(None, max_length=5000)


class RequiredNote(Versioned):
    note: str = Field(..., min_length=1, max_length=5000)


class Reason(Versioned):
    reason: str = Field(..., min_length=1, max_length=5000)


class Extension(Versioned):
    days: int = Field(..., ge=1, le=60)
    reason: str = Field(..., min_length=1, max_length=5000)


class Press(Versioned):
    note: str | None = Field(None, max_length=5000)
    escalate: bool = False


class Reply(Versioned):
    outcome: str = Field(..., min_length=1, max_length=5000)


class Review(Versioned):
    approve: bool
    note: str | None = Field(None, max_length=5000)


class Merge(Versioned):
    master_id: Id
    note: str | None = Field(None, max_length=5000)


class CallbackResult(Body):
    satisfaction: Satisfaction
    solved: bool | None = None
    note: str | None = Field(None, max_length=5000)


class OperatorStateBody(Body):
    status: Literal["available", "on_call", "wrap_up", "away", "offline"]


class TicketQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str | None = Field(None, description="Comma-separated statuses")
    unit_id: Id | None = None
    overdue: bool | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    caller_phone: str | None = Field(None, max_length=32)
    q: str | None = Field(None, max_length=100, description="Text in number, title, content or address")
    type: TicketType | None = None
    urgency: Urgency | None = None
    master_id: Id | None = None
    expert_unit_id: Id | None = None
    pending_extension: bool | None = None
    page: int = Field(1, ge=1, le=MAX_PAGE_NUMBER)
    per_page: int = Field(20, ge=1, le=200)
    order: Literal["newest", "due"] = "newest"


class SuggestQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., min_length=1, max_length=20000)


class SimilarQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(..., min_length=1, max_length=20000)
    area: str | None = Field(None, max_length=100)
    days: int = Field(7, ge=1, le=90)
    limit: int = Field(5, ge=1, le=20)
    exclude: Id | None = Field(None, description="A ticket id to leave out (the one being written)")


class UnitCreate(Body):
    code: str = Field(..., min_length=1, max_length=32)
    name: str = Field(..., min_length=1, max_length=100)
    kind: Literal["township", "department", "public_service", "expert_desk"]
    parent_id: Id | None = None
    area: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40)


class UserCreate(Body):
    username: str = Field(..., min_length=1, max_length=64)
    password: str = Field(..., min_length=8, max_length=200)
    display_name: str = Field(..., min_length=1, max_length=64)
    role: Literal["operator", "expert", "unit", "supervisor", "manager", "admin"]
    unit_id: Id | None = None
    sip_uri: str | None = Field(None, max_length=120)


class CalendarOverrideBody(Body):
    day: dt.date
    is_workday: bool
    note: str | None = Field(None, max_length=200)


class LabelMapBody(Body):
    mapping: dict[str, str] = Field(..., description="label -> unit code")


class ExpertJoin(Body):
    desk_unit_id: Id


class UserUpdate(Body):
    active: bool | None = Field(None, description="false: 停用 (every session and API token of the user ends at once)")
    display_name: str | None = Field(None, min_length=1, max_length=64)
    sip_uri: str | None = Field(None, max_length=120)
    unit_id: Id | None = None


class PasswordChange(Body):
    password: str = Field(..., min_length=8, max_length=200, description="The new password")
    current_password: str | None = Field(None, max_length=200, description="Required when changing one's own password")


class Unlock(Body):
    address: str | None = Field(None, max_length=64, description="Also lift the lock of this client address")


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UnitsQuery(Query):
    kind: Literal["township", "department", "public_service", "expert_desk"] | None = None


class CallbacksQuery(Query):
    status: str | None = Field(None, max_length=100, description="Comma-separated: pending, calling, done, manual, cancelled")
    page: int = Field(1, ge=1, le=MAX_PAGE_NUMBER)


class KnowledgeQuery(Query):
    q: str | None = Field(None, max_length=100)
    limit: int = Field(10, ge=1, le=50)


class EventsQuery(Query):
    after: int = Field(0, ge=0, le=INT64_MAX, description="The last event id the client has")
    limit: int = Field(500, ge=1, le=2000)


class MissedQuery(Query):
    limit: int = Field(100, ge=1, le=500)
