"""Accounts: login sessions held on the server, deactivating a user, changing a password.

A login session is a row in ``user_sessions``; the browser's (signed) cookie carries only its id.
Each request looks the row up, so a logout, a deactivation or a password change ends a session at
once in every web process — nothing about a session lives in one process. Only the SHA-256 of the
id is stored, so a copy of the table opens no session.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, String, delete, select, update
from sqlalchemy.orm import Mapped, joinedload, mapped_column

from hotline.app import retry_transactions
from hotline.db import Base
from hotline.errors import Conflict, Forbidden, InvalidInput, NotFound
from hotline.units import Unit
from hotline.users import Actor, ApiToken, Role, User, hash_password, verify_password

if TYPE_CHECKING:
    from hotline.app import Hotline

# A session ends this long after its login at the latest (the signed cookie's own lifetime is set
# to the same in the web app).
SESSION_LIFETIME = dt.timedelta(days=31)
MIN_PASSWORD = 8


class UserSession(Base):
    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@retry_transactions
class AccountService:
    """Stateless: build one wherever needed with ``AccountService(hotline)``."""

    def __init__(self, hotline: "Hotline") -> None:
        self.hl = hotline

    # ------------------------------------------------------------------ sessions
    def start_session(self, user_id: int) -> str:
        """A new server-side session for the user; returns its id (for the signed cookie)."""
        session_id = secrets.token_urlsafe(32)
        now = self.hl.now()
        with self.hl.uow() as uow:
            s = uow.session
            # The user's expired sessions go as a new one starts: the table stays small.
            s.execute(delete(UserSession).where(UserSession.user_id == user_id, UserSession.expires_at < now))
            s.add(UserSession(id_hash=_digest(session_id), user_id=user_id, created_at=now, expires_at=now + SESSION_LIFETIME))
            uow.commit()
        return session_id

    def user_for_session(self, session_id: str | None) -> User | None:
        """The active user of a live session, or None (logged out, expired, deactivated)."""
        if not session_id:
            return None
        with self.hl.uow(readonly=True) as uow:
            row = uow.session.execute(
                select(User, UserSession.expires_at).join(UserSession, UserSession.user_id == User.id)
                .options(joinedload(User.unit)).where(UserSession.id_hash == _digest(session_id))
            ).first()  # fmt: skip
            if row is None:
                return None
            user, expires_at = row
            if not user.active or expires_at < self.hl.now():
                return None
            _ = user.unit  # loaded while the session is open, for as_dict()
            return user

    def end_session(self, session_id: str | None) -> None:
        """退出登录: this session ends on the server; a saved copy of its cookie opens nothing."""
        if not session_id:
            return
        with self.hl.uow() as uow:
            uow.session.execute(delete(UserSession).where(UserSession.id_hash == _digest(session_id)))
            uow.commit()

    def end_all_sessions(self, user_id: int, *, keep: str | None = None) -> int:
        with self.hl.uow() as uow:
            n = self._end_all(uow.session, user_id, keep)
            uow.commit()
        return n

    @staticmethod
    def _end_all(s: Any, user_id: int, keep: str | None) -> int:
        q = delete(UserSession).where(UserSession.user_id == user_id)
        if keep:
            q = q.where(UserSession.id_hash != _digest(keep))
        return s.execute(q).rowcount or 0

    @staticmethod
    def _revoke_tokens(s: Any, user_id: int) -> None:
        s.execute(update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked.is_(False)).values(revoked=True))

    # ------------------------------------------------------------------ users
    def deactivate_user(self, actor: Actor, user_id: int) -> User:
        """停用: the user can no longer log in; their sessions and API tokens end at once."""
        return self.update_user(actor, user_id, active=False)

    def update_user(self, actor: Actor, user_id: int, *, active: bool | None = None, display_name: str | None = None,
                    sip_uri: str | None = None, unit_id: int | None = None) -> User:  # fmt: skip
        """An admin changes a user. Setting ``active=False`` ends every session and token of theirs."""
        _admin(actor)
        with self.hl.uow() as uow:
            s = uow.session
            user = s.get(User, user_id)
            if user is None:
                raise NotFound("用户不存在", user_id=user_id)
            if active is False and user.id == actor.user_id:
                raise Conflict("不能停用自己的账号")
            if display_name is not None:
                display_name = display_name.strip()
                if not display_name or len(display_name) > 64:
                    raise InvalidInput("姓名不能为空且不超过64字符", field="display_name")
                user.display_name = display_name
            if sip_uri is not None:
                user.sip_uri = sip_uri.strip() or None
            if unit_id is not None:
                if s.get(Unit, unit_id) is None:
                    raise InvalidInput("单位不存在", field="unit_id")
                user.unit_id = unit_id
            if active is not None:
                user.active = bool(active)
                if not active:
                    self._end_all(s, user.id, None)
                    self._revoke_tokens(s, user.id)
            _ = user.unit
            uow.commit()
            return user

    def set_password(self, actor: Actor, user_id: int, new_password: str, *, current_password: str | None = None,
                     keep_session: str | None = None) -> None:  # fmt: skip
        """修改密码: an admin for anybody, a user for themselves with their current password. Every
        other session of the user and all their API tokens end; ``keep_session`` (the session the
        user changed their own password in) stays."""
        own = actor.user_id == user_id
        if not own and actor.role not in ("system", Role.ADMIN):
            raise Forbidden("只能修改本人的密码")
        if len(new_password or "") < MIN_PASSWORD:
            raise InvalidInput(f"密码至少{MIN_PASSWORD}位", field="password")
        if len(new_password) > 200:
            raise InvalidInput("密码不超过200字符", field="password")
        with self.hl.uow() as uow:
            s = uow.session
            user = s.get(User, user_id)
            if user is None:
                raise NotFound("用户不存在", user_id=user_id)
            if own and actor.role not in ("system", Role.ADMIN):
                if not verify_password(user.password_hash, current_password or ""):
                    raise InvalidInput("当前密码不正确", field="current_password")
            user.password_hash = hash_password(new_password)
            self._end_all(s, user.id, keep_session if own else None)
            self._revoke_tokens(s, user.id)
            uow.commit()


def _admin(actor: Actor) -> None:
    if actor.role not in ("system", Role.ADMIN):
        raise Forbidden("只有系统管理员可以执行该操作")
