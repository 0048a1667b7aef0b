"""Units, users and their credentials, the knowledge base and the calendar overrides."""
from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select, update

from hotline.app import retry_transactions
from hotline.calls import OperatorState, OperatorStatus
from hotline.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound
from hotline.knowledge import Article
from hotline.units import Unit, UnitKind
from hotline.users import Actor, ApiToken, Role, User, hash_password, new_token, token_digest, verify_password
from hotline.workcalendar import CalendarOverride

if TYPE_CHECKING:
    from hotline.app import Hotline

# A dummy hash to verify against when the user does not exist, so the answer takes as long either way.
_DUMMY_HASH = hash_password("not-a-password")


@retry_transactions
class DirectoryService:
    def __init__(self, hotline: "Hotline") -> None:
        self.hl = hotline

    # ------------------------------------------------------------------ units
    def create_unit(
        self, actor: Actor, *, code: str, name: str, kind: str, parent_id: int | None = None,
        area: str | None = None, phone: str | None = None,
    ) -> Unit:  # fmt: skip
        _admin(actor)
        try:
            kind = UnitKind(kind).value
        except ValueError:
            raise InvalidInput(f"单位类别无效：{kind!r}", field="kind") from None
        if not (code or "").strip() or not (name or "").strip():
            raise InvalidInput("单位编码和名称不能为空")
        with self.hl.uow() as uow:
            if uow.session.scalar(select(Unit.id).where(Unit.code == code)):
                raise Conflict("单位编码已存在", field="code")
            if parent_id is not None and uow.session.get(Unit, parent_id) is None:
                raise InvalidInput("上级单位不存在", field="parent_id")
            unit = Unit(code=code.strip(), name=name.strip(), kind=kind, parent_id=parent_id, area=area, phone=phone,
                        active=True)  # fmt: skip
            uow.session.add(unit)
            uow.commit()
            return unit

    def units(self, kind: str | None = None, active_only: bool = True) -> list[Unit]:
        with self.hl.uow(readonly=True) as uow:
            q = select(Unit).order_by(Unit.kind, Unit.code)
            if kind:
                q = q.where(Unit.kind == kind)
            if active_only:
                q = q.where(Unit.active.is_(True))
            return list(uow.session.scalars(q))

    def unit(self, unit_id: int) -> Unit:
        with self.hl.uow(readonly=True) as uow:
            unit = uow.session.get(Unit, unit_id)
            if unit is None:
                raise NotFound("单位不存在")
            return unit

    def unit_by_code(self, code: str) -> Unit | None:
        with self.hl.uow(readonly=True) as uow:
            return uow.session.scalar(select(Unit).where(Unit.code == code))

    # ------------------------------------------------------------------ users
    def create_user(
        self, actor: Actor, *, username: str, password: str, display_name: str, role: str,
        unit_id: int | None = None, sip_uri: str | None = None, password_hash: str | None = None,
    ) -> User:  # fmt: skip
        """``password_hash`` lets a bulk load hash a shared password once (the demo city)."""
        _admin(actor)
        try:
            role = Role(role).value
        except ValueError:
            raise InvalidInput(f"角色无效：{role!r}", field="role") from None
        username = (username or "").strip()
        if not username or len(username) > 64:
            raise InvalidInput("用户名不能为空且不超过64字符", field="username")
        if password_hash is None and len(password or "") < 8:
            raise InvalidInput("密码至少8位", field="password")
        if role in (Role.UNIT, Role.EXPERT) and unit_id is None:
            raise InvalidInput("成员单位和专家坐席用户必须属于一个单位", field="unit_id")
        with self.hl.uow() as uow:
            s, now = uow.session, self.hl.now()
            if s.scalar(select(User.id).where(User.username == username)):
                raise Conflict("用户名已存在", field="username")
            if unit_id is not None and s.get(Unit, unit_id) is None:
                raise InvalidInput("单位不存在", field="unit_id")
            user = User(username=username, display_name=display_name or username, password_hash=password_hash or hash_password(password),
                        role=role, unit_id=unit_id, sip_uri=sip_uri, active=True, created_at=now)  # fmt: skip
            s.add(user)
            s.flush()
            if role in (Role.OPERATOR, Role.EXPERT):
                s.add(OperatorState(user_id=user.id, status=OperatorStatus.OFFLINE.value, since=now))
            _ = user.unit  # loaded while the session is open, for as_dict()
            uow.commit()
            return user

    def user(self, user_id: int) -> User | None:
        with self.hl.uow(readonly=True) as uow:
            user = uow.session.get(User, user_id)
            if user is not None:
                _ = user.unit  # load while the session is open
            return user

    def users(self, role: str | None = None) -> list[User]:
        with self.hl.uow(readonly=True) as uow:
            q = select(User).order_by(User.id)
            if role:
                q = q.where(User.role == role)
            users = list(uow.session.scalars(q))
            for u in users:
                _ = u.unit
            return users

    def authenticate(self, username: str, password: str) -> User:
        with self.hl.uow(readonly=True) as uow:
            user = uow.session.scalar(select(User).where(User.username == (username or "").strip()))
            if user is None:
                verify_password(_DUMMY_HASH, password or "")
                raise AuthError("用户名或密码错误")
            if not verify_password(user.password_hash, password or "") or not user.active:
                raise AuthError("用户名或密码错误")
            _ = user.unit
            return user

    def issue_token(self, actor: Actor, name: str, user_id: int | None = None) -> str:
        """A new API token for the actor (or, for an admin, for another user). Shown once."""
        target = user_id or actor.user_id
        if target != actor.user_id and actor.role != Role.ADMIN:
            raise Forbidden("只能为本人签发令牌")
        token, digest = new_token()
        with self.hl.uow() as uow:
            if uow.session.get(User, target) is None:
                raise NotFound("用户不存在")
            uow.session.add(ApiToken(user_id=target, name=(name or "api")[:100], token_hash=digest,
                                     created_at=self.hl.now(), revoked=False))  # fmt: skip
            uow.commit()
        return token

    def user_for_token(self, token: str) -> User:
        # A read transaction: on SQLite a write one would queue every API call behind the writers.
        with self.hl.uow(readonly=True) as uow:
            row = uow.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token or "")))
            if row is None or row.revoked or not row.user.active:
                raise AuthError("令牌无效或已吊销")
            user = row.user
            _ = user.unit
            token_id, last_used = row.id, row.last_used_at
        now = self.hl.now()
        # Touch last_used at most once a minute: a busy integration must not write on every call.
        if last_used is None or now - last_used > dt.timedelta(minutes=1):
            with self.hl.uow() as uow:
                uow.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
                uow.commit()
        return user

    # ------------------------------------------------------------------ knowledge base
    def add_article(self, actor: Actor, *, title: str, body: str, tags: str | None = None,
                    unit_id: int | None = None) -> Article:  # fmt: skip
        if actor.role not in ("system", Role.SUPERVISOR, Role.ADMIN, Role.EXPERT):
            raise Forbidden("无权维护知识库")
        if not (title or "").strip() or not (body or "").strip():
            raise InvalidInput("标题和正文不能为空")
        with self.hl.uow() as uow:
            a = Article(title=title.strip(), body=body.strip(), tags=tags, unit_id=unit_id, active=True,
                        updated_at=self.hl.now())  # fmt: skip
            uow.session.add(a)
            uow.commit()
            return a

    def search_articles(self, text: str, limit: int = 10) -> list[Article]:
        words = [w for w in (text or "").replace("，", " ").replace(",", " ").split() if w][:5]
        with self.hl.uow(readonly=True) as uow:
            q = select(Article).where(Article.active.is_(True))
            for w in words:
                like = f"%{_escape_like(w)}%"
                q = q.where(or_(Article.title.like(like, escape="\\"), Article.body.like(like, escape="\\"),
                                Article.tags.like(like, escape="\\")))  # fmt: skip
            return list(uow.session.scalars(q.order_by(Article.updated_at.desc()).limit(max(1, min(limit, 50)))))

    # ------------------------------------------------------------------ calendar
    def set_calendar_override(self, actor: Actor, day: dt.date, is_workday: bool, note: str | None = None) -> None:
        _admin(actor)
        with self.hl.uow() as uow:
            row = uow.session.get(CalendarOverride, day)
            if row is None:
                uow.session.add(CalendarOverride(day=day, is_workday=is_workday, note=note))
            else:
                row.is_workday, row.note = is_workday, note
            uow.commit()
        self.hl.calendar.reload()

    def calendar_overrides(self) -> list[CalendarOverride]:
        with self.hl.uow(readonly=True) as uow:
            return list(uow.session.scalars(select(CalendarOverride).order_by(CalendarOverride.day)))

    def counts(self) -> dict[str, Any]:
        with self.hl.uow(readonly=True) as uow:
            s = uow.session
            return {
                "units": s.scalar(select(func.count()).select_from(Unit)),
                "users": s.scalar(select(func.count()).select_from(User)),
            }


def _admin(actor: Actor) -> None:
    if actor.role not in ("system", Role.ADMIN):
        raise Forbidden("只有系统管理员可以执行该操作")


def _escape_like(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
