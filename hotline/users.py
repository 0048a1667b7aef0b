"""Users, their roles, API tokens and password hashing (argon2)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hotline.db import Base, BigId
from hotline.units import Unit


class Role(enum.StrEnum):
    OPERATOR = "operator"  # 话务员
    EXPERT = "expert"  # 专家坐席
    UNIT = "unit"  # 成员单位
    SUPERVISOR = "supervisor"  # 督办/班长
    MANAGER = "manager"  # 管理者
    ADMIN = "admin"  # 系统管理员


ROLE_LABELS = {
    Role.OPERATOR: "话务员",
    Role.EXPERT: "专家坐席",
    Role.UNIT: "成员单位",
    Role.SUPERVISOR: "督办班长",
    Role.MANAGER: "管理者",
    Role.ADMIN: "系统管理员",
}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # The operator's or expert's SIP extension, which the bridge rings (e.g. sip:8001@10.0.0.21).
    sip_uri: Mapped[str | None] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]

    unit: Mapped[Unit | None] = relationship()

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "role_label": ROLE_LABELS.get(Role(self.role), self.role),
            "unit_id": self.unit_id,
            "unit_name": self.unit.name if self.unit else None,
            "active": self.active,
        }


class ApiToken(Base):
    """A bearer token for an integration. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship()


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who is acting: what the service layer checks permissions against."""

    user_id: int | None
    role: str
    unit_id: int | None = None
    name: str = ""

    @classmethod
    def of(cls, user: User) -> "Actor":
        return cls(user.id, user.role, user.unit_id, user.display_name)

    @classmethod
    def system(cls) -> "Actor":
        return cls(None, "system", None, "系统")


_hasher = PasswordHasher()


def configure_hasher(**params: int) -> None:
    """Argon2 cost parameters; tests lower them (the defaults cost ~50 ms a hash by design)."""
    global _hasher
    _hasher = PasswordHasher(**params)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> tuple[str, str]:
    """Return (token, sha256 hex) for a new API token."""
    token = "hl_" + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
