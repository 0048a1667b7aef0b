"""Accounts over the API: change or deactivate a user, set a password, lift a login lock.

Deactivating a user or changing their password ends every session and API token of theirs at once
(``hotline.accounts``); the admin screens build on these routes.
"""
from __future__ import annotations

from flask import current_app

from hotline.accounts import AccountService
from hotline.errors import NotFound
from hotline.users import Role
from web.api import route
from web.api import schemas as s
from web.auth import current_actor, current_session_id, hotline, roles_required


@route("/users/{user_id}", "PATCH", summary="修改用户（停用即结束其全部会话与令牌）", tag="admin", body=s.UserUpdate)
def update_user(user_id: int, data: s.UserUpdate):  # noqa: ANN201
    fields = data.model_dump(exclude_unset=True)
    return AccountService(hotline()).update_user(current_actor(), user_id, **fields).as_dict()


@route("/users/{user_id}/password", "POST", summary="设置密码（本人须提供当前密码）", tag="admin", body=s.PasswordChange)
def set_password(user_id: int, data: s.PasswordChange):  # noqa: ANN201
    AccountService(hotline()).set_password(current_actor(), user_id, data.password,
                                           current_password=data.current_password, keep_session=current_session_id())  # fmt: skip
    return {"ok": True}


@route("/users/{user_id}/unlock", "POST", summary="解除登录锁定", tag="admin", body=s.Unlock)
@roles_required(Role.ADMIN)
def unlock_user(user_id: int, data: s.Unlock):  # noqa: ANN201
    user = hotline().directory.user(user_id)
    if user is None:
        raise NotFound("用户不存在", user_id=user_id)
    limits = current_app.extensions["hotline_login_limits"]
    limits.unlock_user(user.username)
    if data.address:
        limits.unlock_address(data.address)
    return {"ok": True, "username": user.username}
