"""Member units (成员单位): townships, city departments, public service units, expert desks."""
from __future__ import annotations

import enum

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base, BigId


class UnitKind(enum.StrEnum):
    TOWNSHIP = "township"  # 乡镇/街道
    DEPARTMENT = "department"  # 市直部门
    PUBLIC_SERVICE = "public_service"  # 公共服务单位（水电气暖等）
    EXPERT_DESK = "expert_desk"  # 专家坐席（法律、人社、医保、政企通）


UNIT_KIND_LABELS = {
    UnitKind.TOWNSHIP: "乡镇街道",
    UnitKind.DEPARTMENT: "市直部门",
    UnitKind.PUBLIC_SERVICE: "公共服务单位",
    UnitKind.EXPERT_DESK: "专家坐席",
}


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # For townships: the area (乡镇/街道 name) they answer for; used to route by address.
    area: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped["Unit | None"] = relationship(remote_side="Unit.id")

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "code": self.code,
            "name": self.name,
            "kind": self.kind,
            "kind_label": UNIT_KIND_LABELS.get(UnitKind(self.kind), self.kind),
            "parent_id": self.parent_id,
            "area": self.area,
            "active": self.active,
        }
