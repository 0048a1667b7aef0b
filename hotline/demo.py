"""Load the demo city on first start: units, staff with printed logins, knowledge articles, and a few
hundred tickets in every state with their calls, made through the service layer (so every ticket has
its event log and the rates have data).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import random
from typing import Callable

from sqlalchemy import func, select

from hotline import demo_data as D
from hotline.app import Hotline
from hotline.callbacks import Callback, CallbackStatus
from hotline.calls import Call
from hotline.clock import FrozenClock
from hotline.config import Settings
from hotline.errors import HotlineError
from hotline.tickets import Ticket
from hotline.units import Unit, UnitKind
from hotline.users import Actor, Role, User, hash_password

DEMO_PASSWORD = "demo12345"


@dataclasses.dataclass
class DemoLogin:
    username: str
    role: str
    name: str


def is_loaded(hl: Hotline) -> bool:
    with hl.uow(readonly=True) as uow:
        return bool(uow.session.scalar(select(func.count()).select_from(User)))


def load(settings: Settings, now: dt.datetime, tickets: int = 360, seed: int = 12345,
         progress: Callable[[str], None] = lambda _m: None) -> list[DemoLogin]:  # fmt: skip
    """Fill an empty database. Tickets are spread over the 20 days before ``now``.

    Call ``hotline.bootstrap.prepare`` rather than this: it marks the load complete at the end, so
    that a start interrupted half-way is noticed and redone.
    """
    clock = _DemoClock(now - dt.timedelta(days=21))
    clock.limit = now - dt.timedelta(minutes=1)
    hl = Hotline(settings, clock=clock)
    try:
        rng = random.Random(seed)
        logins = _directory(hl)
        counts = hl.directory.counts()
        progress(f"已建立 {counts['units']} 个单位、{counts['users']} 个用户")
        _articles(hl)
        _tickets(hl, clock, rng, now, tickets)
        with hl.uow(readonly=True) as uow:
            written = uow.session.scalar(select(func.count()).select_from(Ticket))
            calls = uow.session.scalar(select(func.count()).select_from(Call))
        progress(f"已生成 {written} 张演示工单（{calls} 通来电）")
        return logins
    finally:
        hl.dispose()


def complete_state(logins: list[DemoLogin], at: dt.datetime) -> dict:
    """The ``system_state`` value of a complete demo: the logins are kept so that every later start
    can print them again."""
    return {"state": "complete", "completed_at": at.isoformat(),
            "logins": [[x.username, x.role, x.name] for x in logins]}  # fmt: skip


def logins_from_state(state: dict) -> list[DemoLogin]:
    return [DemoLogin(*row) for row in state.get("logins") or []]


def _directory(hl: Hotline) -> list[DemoLogin]:
    sysa, d = Actor.system(), hl.directory
    logins: list[DemoLogin] = []
    shared_hash = hash_password(DEMO_PASSWORD)  # one argon2 hash for a hundred demo users

    def user(username: str, name: str, role: str, unit_id: int | None = None, sip: str | None = None) -> User:
        u = d.create_user(sysa, username=username, password=DEMO_PASSWORD, display_name=name, role=role,
                          unit_id=unit_id, sip_uri=sip, password_hash=shared_hash)  # fmt: skip
        logins.append(DemoLogin(username, role, name))
        return u

    user("admin", "系统管理员", Role.ADMIN)
    user("manager", "热线中心主任 周敏", Role.MANAGER)
    user("super1", "值班班长 刘洋", Role.SUPERVISOR)
    user("super2", "督办专员 陈静", Role.SUPERVISOR)
    for i, name in enumerate(["李艳", "王芳", "张娜", "赵敏", "孙丽", "吴洁"], 1):
        user(f"op{i}", f"话务员 {name}", Role.OPERATOR, sip=f"sip:80{i:02d}@127.0.0.1:5080")
    for i, town in enumerate(D.TOWNSHIPS, 1):
        unit = d.create_unit(sysa, code=f"T{i:02d}", name=town, kind=UnitKind.TOWNSHIP, area=town)
        user(f"t{i:02d}", f"{town}工单员", Role.UNIT, unit.id)
    for code, name in D.DEPARTMENTS:
        unit = d.create_unit(sysa, code=code, name=name, kind=UnitKind.DEPARTMENT)
        user(code.lower(), f"{name}工单员", Role.UNIT, unit.id)
    for code, name in D.PUBLIC_SERVICES:
        unit = d.create_unit(sysa, code=code, name=name, kind=UnitKind.PUBLIC_SERVICE)
        user(code.lower(), f"{name}工单员", Role.UNIT, unit.id)
    for i, (code, name) in enumerate(D.EXPERT_DESKS, 1):
        unit = d.create_unit(sysa, code=code, name=name, kind=UnitKind.EXPERT_DESK)
        user(code.lower(), f"{name} 值班专家", Role.EXPERT, unit.id, sip=f"sip:90{i:02d}@127.0.0.1:5080")
    return logins


def _articles(hl: Hotline) -> None:
    for title, body, tags in D.ARTICLES:
        hl.directory.add_article(Actor.system(), title=title, body=body, tags=tags)


def person(rng: random.Random) -> tuple[str, str]:
    name = rng.choice(D.SURNAMES) + rng.choice(["先生", "女士"]) if rng.random() < 0.6 else \
        rng.choice(D.SURNAMES) + rng.choice(D.GIVEN)  # fmt: skip
    phone = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
    return name, phone


def fill(template: str, rng: random.Random, township: str) -> str:
    return template.format(
        road=rng.choice(D.ROADS), community=rng.choice(D.COMMUNITIES), school=rng.choice(D.SCHOOLS),
        shop=rng.choice(D.SHOPS), n=rng.randint(2, 9), township=township,
    )  # fmt: skip


class _PastNow(Exception):
    pass


class _DemoClock(FrozenClock):
    """The demo's clock walks each ticket through its life but never past the real "now"."""

    limit: dt.datetime | None = None

    def set(self, when: dt.datetime) -> None:
        if self.limit is not None and when > self.limit:
            raise _PastNow
        super().set(when)


def _tickets(hl: Hotline, clock: FrozenClock, rng: random.Random, now: dt.datetime, count: int) -> None:
    with hl.uow(readonly=True) as uow:
        s = uow.session
        units = {u.code: u for u in s.scalars(select(Unit))}
        users = {u.username: u for u in s.scalars(select(User))}
    actor = lambda name: Actor.of(users[name])  # noqa: E731
    unit_actor = lambda unit: Actor(users[unit.code.lower()].id, Role.UNIT, unit.id)  # noqa: E731
    ops = [actor(f"op{i}") for i in range(1, 7)]
    sup = actor("super1")
    desks = [units[c] for c, _ in D.EXPERT_DESKS]
    start = now - dt.timedelta(days=20)
    # Outcomes and their weights: the demo shows every state a center sees.
    plan = (["accepted"] * 4 + ["first_contact"] * 14 + ["rejected"] * 2 + ["dispatched"] * 10 + ["returned"] * 4
            + ["signed"] * 14 + ["extension"] * 3 + ["replied"] * 8 + ["reviewed"] * 4 + ["closed"] * 27
            + ["merged"] * 5 + ["expert"] * 3 + ["abandoned"] * 2 + ["redispatched"] * 2 + ["reopened"] * 2)  # fmt: skip
    tickets_by_unit: dict[int, list[int]] = {}
    for i in range(count):
        kind = plan[i % len(plan)] if i < len(plan) else rng.choice(plan)
        at = start + dt.timedelta(seconds=rng.randint(0, int((now - start).total_seconds()) - 3600))
        at = at.replace(hour=rng.randint(8, 19), microsecond=0)
        if kind in ("accepted", "dispatched", "signed", "expert", "extension", "returned", "redispatched"):
            at = now - dt.timedelta(hours=rng.randint(2, 96))  # recent enough to still be open
        elif kind in ("replied", "reviewed", "closed", "merged", "reopened"):
            at = min(at, now - dt.timedelta(days=8))  # room for the whole chain before "now"
        clock.set(at)
        name, phone = person(rng)
        op = rng.choice(ops)
        # A call for each phone ticket: offered, a short wait, answered by the operator.
        call_id = hl.calls.offered(phone, rng.choice(["12345"] * 8 + ["12315", "12333"]), bridge_id="demo")
        clock.set(at + dt.timedelta(seconds=rng.choice([3, 5, 8, 11, 14, 18, 25])))
        if kind == "abandoned":
            hl.calls.ended(call_id, "abandoned")
            continue
        hl.calls.answered(call_id, op.user_id)
        clock.set(clock.now() + dt.timedelta(minutes=rng.randint(2, 6)))
        if kind == "first_contact":
            q, a = rng.choice(D.QUICK_QUESTIONS)
            t = hl.tickets.accept(op, content=q, type="inquiry", caller_phone=phone, caller_name=name, call_id=call_id)
            hl.tickets.close_first_contact(op, t.id, a)
            hl.calls.ended(call_id, "answered")
            continue
        code, type_, urgency, template = rng.choice(D.TEMPLATES)
        township = rng.choice(D.TOWNSHIPS)
        unit = units[f"T{D.TOWNSHIPS.index(township) + 1:02d}"] if code == "T" else units[code]
        content = fill(template, rng, township)
        t = hl.tickets.accept(
            op, content=content, type=type_, urgency=urgency, caller_phone=phone, caller_name=name,
            area=township, address=f"{D.CITY}{township}{rng.choice(D.ROADS)}{rng.randint(1, 300)}号",
            green_channel=rng.random() < 0.05, confidential=type_ == "report" and rng.random() < 0.5, call_id=call_id,
        )  # fmt: skip
        hl.calls.ended(call_id, "answered")
        tid = t.id
        try:
            if kind == "accepted":
                continue
            if kind == "rejected":
                hl.tickets.reject(op, tid, "outside_jurisdiction", "所述地点不在本市行政区域内")
                continue
            if kind == "expert":
                hl.tickets.transfer_to_expert(op, tid, rng.choice(desks).id, "需专家解答政策问题")
                continue
            if kind == "merged" and tickets_by_unit.get(unit.id):
                hl.tickets.merge(op, tid, tickets_by_unit[unit.id][0], "同一事项重复反映")
                continue
            co: list[Unit] = []
            # Co-handling units on some tickets, and always on the paths that hand a ticket on again
            # (re-dispatch, reopen), which must keep them.
            if rng.random() < 0.12 or kind in ("redispatched", "reopened"):
                co = [u for u in [units[rng.choice(["D02", "D01", "P11"])]] if u.id != unit.id]
            hl.tickets.dispatch(op, tid, unit.id, [u.id for u in co])
            tickets_by_unit.setdefault(unit.id, []).append(tid)
            if kind == "dispatched":
                continue
            ua = unit_actor(unit)
            clock.set(clock.now() + dt.timedelta(hours=rng.randint(1, 20)))
            if kind in ("returned", "redispatched"):
                hl.tickets.return_ticket(ua, tid, "该事项不属于本单位职责范围，建议转交属地街道处理")
                if kind == "redispatched":  # 改派 to the township the matter is in, the co-units kept
                    clock.set(clock.now() + dt.timedelta(hours=1))
                    to = units[f"T{D.TOWNSHIPS.index(township) + 1:02d}"]
                    to = to if to.id != unit.id else units["D02"]
                    hl.tickets.redispatch(sup, tid, to.id, [u.id for u in co if u.id != to.id], "请属地街道牵头办理")
                continue
            hl.tickets.sign(ua, tid)
            for cu in co:  # the co-handling unit acknowledges and gives its opinion (协办意见)
                hl.tickets.sign(unit_actor(cu), tid)
                hl.tickets.reply(unit_actor(cu), tid, "已配合主办单位现场核查")
            if kind == "signed":
                continue
            if kind == "extension":
                hl.tickets.request_extension(ua, tid, 5, "需协调多个部门现场会商，申请延期")
                continue
            clock.set(clock.now() + dt.timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 8)))
            hl.tickets.reply(ua, tid, rng.choice(D.REPLIES))
            if kind == "replied":
                continue
            clock.set(clock.now() + dt.timedelta(hours=rng.randint(1, 8)))
            hl.tickets.review(sup, tid, True, "回复内容完整")
            if kind == "reviewed":
                continue
            hl.tickets.close(sup, tid)
            if kind == "reopened":  # the citizen is not satisfied at the callback: 重办
                with hl.uow(readonly=True) as uow:
                    cb = uow.session.scalar(select(Callback).where(Callback.ticket_id == tid))
                clock.set(cb.due_at + dt.timedelta(hours=1))
                hl.tickets.record_callback(rng.choice(ops), cb.id, "unsatisfied", False, "问题仍未解决", method="auto")
        except (HotlineError, _PastNow):
            continue  # a path the rules refuse, or one that would end in the future: keep the ticket as it is
    _callbacks(hl, clock, rng, now, ops)


def _callbacks(hl: Hotline, clock: FrozenClock, rng: random.Random, now: dt.datetime, ops: list[Actor]) -> None:
    """Most due callbacks done (a few unsatisfied, which reopens the ticket); the rest left pending."""
    with hl.uow(readonly=True) as uow:
        due = list(uow.session.scalars(select(Callback).where(Callback.status == CallbackStatus.PENDING,
                                                                 Callback.due_at < now).order_by(Callback.due_at)))  # fmt: skip
    for cb in due:
        if rng.random() < 0.15:
            continue
        try:
            clock.set(max(cb.due_at + dt.timedelta(hours=rng.randint(0, 6)), clock.now()))
        except _PastNow:
            continue
        sat = rng.choices(["satisfied", "basic", "unsatisfied"], weights=[80, 14, 6])[0]
        try:
            hl.tickets.record_callback(rng.choice(ops), cb.id, sat, sat != "unsatisfied", method="auto")
        except HotlineError:
            pass


def training_pairs(per_template: int = 12, seed: int = 7) -> list[tuple[str, str]]:
    """(text, unit code) pairs written from the demo's own request templates: the first model's
    training data, so ``python run.py`` suggests units from its very first start."""
    rng = random.Random(seed)
    pairs = []
    for code, _type, _urgency, template in D.TEMPLATES:
        if code == "T":  # a township's matters: the place name decides, so every township appears
            for i, township in enumerate(D.TOWNSHIPS, 1):
                pairs += [(fill(template, rng, township), f"T{i:02d}") for _ in range(2)]
        else:
            pairs += [(fill(template, rng, rng.choice(D.TOWNSHIPS)), code) for _ in range(per_template)]
    return pairs
