"""A small city for the workflow tests: units of each kind and a user for every role."""
from __future__ import annotations

import dataclasses

import pytest

from hotline.app import Hotline
from hotline.units import Unit
from hotline.users import Actor

PASSWORD = "password123"


@dataclasses.dataclass
class City:
    hl: Hotline
    township: Unit
    roads: Unit
    water: Unit
    legal: Unit
    operator: Actor
    operator2: Actor
    supervisor: Actor
    manager: Actor
    admin: Actor
    expert: Actor
    township_user: Actor
    roads_user: Actor
    water_user: Actor

    def new_ticket(self, **kw):
        kw.setdefault("content", "小区门口路灯坏了三天，晚上很黑")
        kw.setdefault("caller_phone", "13812345678")
        kw.setdefault("caller_name", "张先生")
        return self.hl.tickets.accept(self.operator, **kw)

    def dispatched(self, unit=None, **kw):
        t = self.new_ticket(**kw)
        return self.hl.tickets.dispatch(self.operator, t.id, (unit or self.township).id)

    def signed(self, **kw):
        t = self.dispatched(**kw)
        return self.hl.tickets.sign(self.township_user, t.id)

    def replied(self, **kw):
        t = self.signed(**kw)
        return self.hl.tickets.reply(self.township_user, t.id, "已修复路灯")

    def closed(self, **kw):
        t = self.replied(**kw)
        self.hl.tickets.review(self.supervisor, t.id, True)
        return self.hl.tickets.close(self.supervisor, t.id)


def make_city(hl: Hotline) -> City:
    d, sysa = hl.directory, Actor.system()
    township = d.create_unit(sysa, code="T01", name="城关街道", kind="township", area="城关街道")
    roads = d.create_unit(sysa, code="D02", name="市城市管理局", kind="department")
    water = d.create_unit(sysa, code="P01", name="青川市自来水公司", kind="public_service")
    legal = d.create_unit(sysa, code="E01", name="法律专家坐席", kind="expert_desk")

    def user(name, role, unit=None):
        u = d.create_user(sysa, username=name, password=PASSWORD, display_name=name, role=role,
                          unit_id=unit.id if unit else None)
        return Actor.of(u)

    return City(
        hl, township, roads, water, legal,
        operator=user("op1", "operator"), operator2=user("op2", "operator"), supervisor=user("sup", "supervisor"),
        manager=user("mgr", "manager"), admin=user("admin", "admin"), expert=user("lawyer", "expert", legal),
        township_user=user("t01", "unit", township), roads_user=user("d02", "unit", roads),
        water_user=user("p01", "unit", water),
    )


@pytest.fixture
def city(hl):
    return make_city(hl)
