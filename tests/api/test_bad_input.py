"""Bad input never gives a 500: the server errors schemathesis found, each as a request, and a
bounded schemathesis run over every operation of the OpenAPI document (as an admin and as a unit)
with zero server errors and zero answers that break the declared schemas."""
from __future__ import annotations


import pytest

BIG = str(2**63)  # one past the largest 64-bit id
HUGE = "9" * 30


@pytest.fixture
def admin(login):
    return login("admin")


@pytest.mark.parametrize("method, url, body", [
    ("get", f"/api/v1/tickets/{BIG}", None),
    ("get", f"/api/v1/tickets/{HUGE}/events", None),
    ("post", f"/api/v1/tickets/{BIG}/sign", {}),
    ("get", f"/api/v1/units/{BIG}", None),
    ("post", f"/api/v1/callbacks/{BIG}/result", {"satisfaction": "satisfied"}),
    ("post", f"/api/v1/calls/{BIG}/call-back", {}),
    ("patch", f"/api/v1/users/{BIG}", {"active": True}),
    ("get", f"/api/v1/tickets?page={BIG}", None),
    ("get", f"/api/v1/tickets?unit_id={BIG}", None),
    ("get", f"/api/v1/tickets?master_id={HUGE}", None),
    ("get", f"/api/v1/events?after={HUGE}", None),
    ("get", f"/api/v1/callbacks?page={BIG}", None),
    ("get", "/api/v1/knowledge?limit=abc", None),
    ("get", "/api/v1/calls/missed?limit=abc", None),
    ("get", "/api/v1/reports/snapshots?from=2026-11-01&to=2026-11-02&scope=unit&scope_id=abc", None),
    ("get", f"/api/v1/reports/daily?date=2026-11-22&unit_id={BIG}", None),
    ("get", "/workbench/my-tickets?limit=abc", None),
    ("get", "/open311/v2/requests.json?page=1e25", None),
    ("get", f"/open311/v2/requests.json?page={HUGE}", None),
    ("get", f"/open311/v2/requests.json?per_page={HUGE}", None),
    ("post", "/api/v1/tickets", {"content": "路灯不亮", "call_id": 987654321}),
    ("post", "/api/v1/tickets", {"content": "路灯不亮", "call_id": int(BIG)}),
    ("post", "/api/v1/tickets/1/dispatch", {"unit_id": int(BIG)}),
    ("post", "/api/v1/tickets/1/dispatch", {"unit_id": 1, "version": int(HUGE)}),
    ("post", "/api/v1/units", {"code": "X01", "name": "某单位", "kind": "department", "parent_id": 987654}),
    ("post", "/api/v1/units", {"code": "X02", "name": "某单位", "kind": "department", "parent_id": int(BIG)}),
    ("post", "/api/v1/users", {"username": "u1", "password": "password123", "display_name": "u", "role": "unit",
                               "unit_id": int(BIG)}),
])  # fmt: skip
def test_each_finding_is_a_clear_4xx(admin, city, method, url, body):
    city.new_ticket()
    r = getattr(admin, method)(url, json=body) if body is not None else getattr(admin, method)(url)
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:500])
    if r.is_json:
        assert set(r.json) >= {"error", "detail"} and r.json["detail"]
        # never the database's own words
        for word in ("FOREIGN KEY", "foreign key", "constraint", "IntegrityError", "sqlite", "psycopg", "violates"):
            assert word not in r.get_data(as_text=True)


def test_openapi_declares_real_response_schemas(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    ticket = spec["paths"]["/api/v1/tickets/{ticket_id}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ticket == {"$ref": "#/components/schemas/Ticket"}
    assert {"id", "number", "status", "caller", "content"} <= set(spec["components"]["schemas"]["Ticket"]["required"])
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
            assert ok["content"]["application/json"]["schema"] != {"type": "object"}, (method, path)


# ---------------------------------------------------------------------- the bounded schemathesis run
EXAMPLES = 12  # per operation and role: ~1,200 requests in all, about a minute on this machine


def test_schemathesis_finds_no_server_error_and_no_schema_violation(app, city, hl, settings):
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the fuzzing run is the web layer's: once, on SQLite")
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hsettings
    from sqlalchemy import update

    from hotline.users import ApiToken, User
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    t = city.dispatched(content="人民路路灯不亮，请回电13812345678")
    hl.tickets.sign(city.township_user, t.id)
    city.closed()
    tokens = {"admin": hl.directory.issue_token(city.admin, "fuzz"), "unit": hl.directory.issue_token(city.township_user, "fuzz")}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    failures: list[str] = []
    answered: set[str] = set()  # operations that answered 2xx at least once: their schema was checked
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 45

    def restore() -> None:
        # The run may deactivate a user or change a password (which revokes tokens): undo it, so
        # every case is made with a working token.
        with hl.uow() as uow:
            uow.session.execute(update(User).values(active=True))
            uow.session.execute(update(ApiToken).values(revoked=False))
            uow.commit()

    for role, token in tokens.items():
        for op in operations:
            if op.path.endswith("/auth/logout"):
                continue  # bearer requests have no session to end; nothing to fuzz

            @given(case=op.as_strategy())
            @hsettings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                       phases=[Phase.explicit, Phase.generate],
                       suppress_health_check=list(HealthCheck))  # fmt: skip
            def run(case) -> None:  # noqa: ANN001
                restore()
                response = case.call(headers={"Authorization": f"Bearer {token}"})
                if 200 <= response.status_code < 300:
                    answered.add(f"{op.method} {op.path}")
                try:
                    case.validate_response(response, checks=checks)
                except Exception as e:  # noqa: BLE001 - collect every failure, report them together
                    msg = f"{role} {op.method.upper()} {op.path}: {str(e)[:600]}"
                    if msg not in failures:
                        failures.append(msg)

            run()
    assert not failures, "\n\n".join(failures[:20]) + f"\n({len(failures)} failures)"
    assert len(answered) >= 25, sorted(answered)  # the success answers were really checked
