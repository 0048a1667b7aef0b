from __future__ import annotations

import pytest

from tests.core.conftest import PASSWORD, make_city
from web import create_app


@pytest.fixture
def city(hl):
    return make_city(hl)


@pytest.fixture
def app(hl, city):
    return create_app(hl, testing=True)


class Session:
    """A logged-in test client that sends the CSRF header on writes, as the pages do."""

    def __init__(self, app, username):
        self.client = app.test_client()
        r = self.client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.json
        self.csrf = r.json["csrf_token"]

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def post(self, url, **kw):
        kw.setdefault("headers", {})["X-CSRFToken"] = self.csrf
        return self.client.post(url, **kw)

    def patch(self, url, **kw):
        kw.setdefault("headers", {})["X-CSRFToken"] = self.csrf
        return self.client.patch(url, **kw)


@pytest.fixture
def login(app):
    return lambda username: Session(app, username)
