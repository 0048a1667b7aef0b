"""The workbenches in a real headless Chromium (Playwright, the system's /usr/bin/chromium).

One server and one browser for the module. Each test saves screenshots under
artifacts/screenshots/ so a person can look at every workbench.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from hotline.app import Hotline
from hotline.clock import FrozenClock
from tests.core.conftest import PASSWORD, make_city
from tests.web.conftest import SCREENSHOTS, LiveServer, make_settings

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip


@pytest.fixture(scope="module")
def server(sqlite_template, tmp_path_factory):
    from web import create_app

    tmp = tmp_path_factory.mktemp("browser")
    db = tmp / "browser.db"
    shutil.copy(sqlite_template, db)
    clock = FrozenClock(dt.datetime(2026, 11, 23, 9, 0))
    hl = Hotline(make_settings(db, tmp / "data"), clock=clock)
    city = make_city(hl)
    hl.directory.add_article(city.admin, title="路灯报修流程", body="路灯故障由所在街道城管科受理，一般3个工作日内修复。", tags="路灯")
    app = create_app(hl, testing=True, message_queue=None)
    srv = LiveServer(app)
    srv.city, srv.clock = city, clock
    yield srv
    srv.stop()
    hl.dispose()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not installed at {CHROMIUM}")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def open_as(server, browser):
    contexts = []

    def _open(username: str, path: str | None = None, wait_live: bool = True):
        ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        contexts.append(ctx)
        page = ctx.new_page()
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        # A script the Content-Security-Policy refused is an error of the page too.
        page.on("console", lambda m: page.errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text else None)  # fmt: skip
        page.goto(server.url + "/login")
        page.fill("#username", username)
        page.fill("#password", PASSWORD)
        page.click("#login-btn")
        page.wait_for_load_state("load")
        if path:
            page.goto(server.url + path)
        if wait_live:
            page.wait_for_function("() => window.HL_LIVE && window.HL_LIVE.ready === true", timeout=5000)
        return page

    yield _open
    for ctx in contexts:
        ctx.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)  # let the last list render and the charts draw
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_login_page(server, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, locale="zh-CN")
    page = ctx.new_page()
    page.goto(server.url + "/console")
    assert "/login" in page.url
    shot(page, "00-login")
    page.fill("#username", "op1")
    page.fill("#password", "wrong")
    page.click("#login-btn")
    assert "用户名或密码错误" in page.content()
    ctx.close()


def test_operator_dispatch_reaches_the_open_unit_page_within_a_second(server, open_as):
    unit = open_as("t01")
    assert unit.url.endswith("/unit")
    unit.evaluate("window.__noReload = 'still the same page'")
    console = open_as("op1")
    assert console.url.endswith("/console")

    console.fill("#f-phone", "13812345678")
    console.fill("#f-name", "张先生")
    console.fill("#f-area", "城关街道")
    console.fill("#f-address", "人民路88号")
    console.fill("#f-content", "人民路88号门口路灯坏了三天，晚上很黑，老人出门不方便")
    console.select_option("#d-unit", str(server.city.township.id))
    console.check(f"#co-units input[value='{server.city.water.id}']")
    with console.expect_response(lambda r: r.url.endswith("/dispatch") and r.request.method == "POST") as resp:
        console.click("#do-dispatch")
    body = resp.value.json()
    assert resp.value.status == 200 and body["status"] == "dispatched", body
    dispatched_at = time.perf_counter()
    unit.wait_for_selector(f"#inbox tbody tr[data-number='{body['number']}']", timeout=1000)
    elapsed = time.perf_counter() - dispatched_at
    assert elapsed < 1.0
    assert unit.evaluate("window.__noReload") == "still the same page"  # no reload happened
    assert unit.inner_text("#new-count") == "新工单 1"
    assert unit.evaluate("window.HL.beeps") >= 1  # the chime played
    row = unit.locator(f"#inbox tbody tr[data-number='{body['number']}']")
    assert row.get_attribute("data-light") == "green"
    # The unit sees the caller masked, never in clear.
    row.click()
    unit.wait_for_selector("#detail dl")
    # Before signing: sign or return, not reply.
    assert unit.is_visible("#btn-sign") and unit.is_visible("#btn-show-return")
    assert not unit.is_visible("#btn-show-reply") and not unit.is_visible("#btn-show-ext")
    detail = unit.inner_text("#detail")
    assert "138****5678" in detail and "13812345678" not in detail
    shot(unit, "20-unit-new-ticket")
    assert console.locator("#mine tbody tr").first.get_attribute("data-status") == "dispatched"
    assert not unit.errors and not console.errors


def test_unit_signs_and_replies_and_the_operator_view_updates(server, open_as):
    city = server.city
    t = city.dispatched(content="城关街道幸福小区门口积水严重，下雨天无法通行")
    console = open_as("op1")
    row = console.locator(f"#mine tbody tr[data-id='{t.id}']")
    assert row.get_attribute("data-status") == "dispatched"
    unit = open_as("t01")
    unit.click(f"#inbox tbody tr[data-id='{t.id}']")
    unit.wait_for_selector("#btn-sign:visible")
    unit.click("#btn-sign")
    console.wait_for_selector(f"#mine tbody tr[data-id='{t.id}'][data-status='signed']", timeout=2000)
    assert "办理中" in row.inner_text()
    unit.wait_for_selector("#btn-show-reply:visible")
    unit.click("#btn-show-reply")
    unit.fill("#reply-outcome", "已组织人员疏通排水管道，积水已排除。")
    shot(unit, "21-unit-reply")
    unit.click("#btn-reply")
    console.wait_for_selector(f"#mine tbody tr[data-id='{t.id}'][data-status='replied']", timeout=2000)
    assert "已回复" in row.inner_text()
    assert not unit.errors and not console.errors


def test_a_page_that_lost_its_connection_catches_up_on_reconnect(server, open_as):
    city = server.city
    unit = open_as("d02")
    unit.evaluate("window.__noReload = 1; window.HL_LIVE.socket.disconnect()")
    unit.wait_for_function("() => document.querySelector('#live-status').textContent.includes('断开')")
    missed = city.dispatched(unit=city.roads, content="市区主干道井盖缺失，夜间有安全隐患")
    assert unit.locator(f"#inbox tbody tr[data-id='{missed.id}']").count() == 0  # offline: nothing arrived
    unit.evaluate("window.HL_LIVE.socket.connect()")
    unit.wait_for_selector(f"#inbox tbody tr[data-id='{missed.id}']", timeout=5000)  # reconnecting is not the 1-second push path
    assert unit.evaluate("window.__noReload") == 1
    # A missed arrival still counts and chimes (the row may be drawn by the resync's reload first).
    unit.wait_for_function("() => document.querySelector('#new-count').textContent === '新工单 1'", timeout=5000)
    assert unit.evaluate("window.HL_LIVE.received.some(r => r.catchup && r.ev.ticket_id === %d)" % missed.id)


def test_unit_user_is_refused_the_manager_page(server, open_as):
    unit = open_as("t01", wait_live=False)
    resp = unit.goto(server.url + "/dashboard")
    assert resp.status == 403
    assert "无权访问" in unit.inner_text("body")
    assert unit.locator("#kpis").count() == 0
    shot(unit, "90-refused-manager-page")


def test_console_screen_pop_suggestions_and_merge(server, open_as):
    city, hl = server.city, server.city.hl
    earlier = city.dispatched(content="人民路88号路灯不亮，已经好几天了", caller_phone="13700001234", caller_name="李女士")
    console = open_as("op1")
    suggest = {"available": True, "unsure": False, "keywords": [["路灯", 0.9], ["不亮", 0.5]], "choices": [
        {"unit_id": city.township.id, "unit_name": city.township.name, "label": "T01", "probability": 0.82},
        {"unit_id": city.roads.id, "unit_name": city.roads.name, "label": "D02", "probability": 0.11}]}  # fmt: skip
    similar = {"items": [{"id": earlier.id, "number": earlier.number, "title": earlier.title, "status": "dispatched", "score": 0.91}]}
    console.route("**/api/v1/suggest?*", lambda r: r.fulfill(status=200, content_type="application/json", body=json.dumps(suggest)))
    console.route("**/api/v1/tickets/similar?*", lambda r: r.fulfill(status=200, content_type="application/json", body=json.dumps(similar)))

    # An incoming call assigned by the bridge pops on this console with the caller's history.
    hl.calls.set_state(city.operator, city.operator.user_id, "available")
    call_id = hl.calls.offered("13700001234", "12345")
    hl.calls.assign(call_id, city.operator.user_id)
    console.wait_for_selector("#pop-card.pop #pop-number", timeout=2000)
    assert console.inner_text("#pop-number") == "13700001234"
    assert earlier.number in console.inner_text("#pop-history")
    assert console.input_value("#f-phone") == "13700001234"
    assert console.input_value("#f-call-id") == str(call_id)
    console.wait_for_selector("#state-switch button.active[data-state='on_call']")

    # Suggestions appear while typing (debounced), with their confidence.
    console.type("#f-content", "人民路88号路灯又不亮了", delay=10)
    console.wait_for_selector("#suggest-body .sugg", timeout=3000)
    assert "82%" in console.inner_text("#suggest-body")
    console.wait_for_selector("#similar-body .pick-master")
    console.click(f"#suggest-body .sugg[data-unit='{city.township.id}']")
    assert console.input_value("#d-unit") == str(city.township.id)
    console.fill("#kb-q", "路灯")
    console.click("#kb-btn")
    console.wait_for_selector("#kb-body .kb-item")
    shot(console, "10-operator-console")

    # Merge into the similar open ticket beside the form.
    console.click("#similar-body .pick-master")
    assert console.inner_text("#m-master") == earlier.number
    with console.expect_response(lambda r: r.url.endswith("/merge")) as resp:
        console.click("#do-merge")
    merged = resp.value.json()
    assert merged["status"] == "merged" and merged["master_id"] == earlier.id
    # The call is attached to the new ticket.
    assert hl.calls.get(call_id).ticket_id == merged["id"]
    # Seat state: the operator goes to wrap-up and back.
    console.click("#state-switch button[data-state='wrap_up']")
    console.wait_for_selector("#state-switch button.active[data-state='wrap_up']")
    assert not console.errors


def test_console_without_classifier_says_no_suggestion(server, open_as):
    closed = server.city.closed(content="路灯已修好，待回访")
    console = open_as("op1")
    # 回访: the closed ticket's callback is on the list; one click records the caller's verdict.
    row = console.locator("#callbacks tr[data-cb]", has_text=closed.number)
    row.wait_for(timeout=3000)
    with console.expect_response(lambda r: "/api/v1/callbacks/" in r.url and r.url.endswith("/result")) as resp:
        row.locator("button[data-sat='satisfied']").click()
    assert resp.value.status == 200 and resp.value.json()["satisfaction"] == "satisfied"
    row.wait_for(state="detached", timeout=3000)
    console.route("**/api/v1/suggest?*", lambda r: r.fulfill(status=200, content_type="application/json",
                                                              body=json.dumps({"available": False, "choices": []})))  # fmt: skip
    console.route("**/api/v1/tickets/similar?*", lambda r: r.fulfill(status=404, content_type="application/json", body="{}"))
    console.type("#f-content", "咨询社保卡补办需要什么材料", delay=5)
    console.wait_for_function("() => document.querySelector('#suggest-body').textContent.includes('暂无建议')", timeout=3000)
    console.wait_for_function("() => document.querySelector('#similar-body').textContent.includes('暂无建议')", timeout=3000)
    # Close at first contact with a knowledge-base answer.
    console.fill("#kb-q", "")
    console.click("#action-tabs button[data-tab='t-answer']")
    console.fill("#a-answer", "社保卡补办请携带身份证到社保经办窗口办理。")
    with console.expect_response(lambda r: r.url.endswith("/close-first-contact")) as resp:
        console.click("#do-answer")
    assert resp.value.json()["status"] == "closed"
    # Reject with a reason from the fixed list.
    console.fill("#f-content", "我要报警，有人打架")
    console.click("#action-tabs button[data-tab='t-reject']")
    console.select_option("#r-reason", "emergency_line")
    with console.expect_response(lambda r: r.url.endswith("/reject")) as resp:
        console.click("#do-reject")
    assert resp.value.json()["status"] == "rejected"


def test_supervisor_expert_and_manager_workbenches(server, open_as):
    city, hl, clock = server.city, server.city.hl, server.clock
    returned = city.dispatched(content="这件事不归街道管，应该由水务公司处理：自来水管爆裂")
    hl.tickets.return_ticket(city.township_user, returned.id, "供水管网属自来水公司管辖")
    ext = city.signed(content="老旧小区加装电梯协调")
    hl.tickets.request_extension(city.township_user, ext.id, 5, "需要业主协商，时间较长")
    late = city.dispatched(content="小区垃圾清运不及时", unit=city.roads)
    replied = city.replied(content="路面坑洼需要修补")
    to_expert = city.new_ticket(content="公司拖欠工资三个月，想咨询怎么维权", type="inquiry")
    hl.tickets.transfer_to_expert(city.operator, to_expert.id, city.legal.id, "劳动争议，转法律专家")
    clock.advance(days=12)  # the dispatched ones are now overdue
    try:
        sup = open_as("sup")
        assert sup.url.endswith("/supervisor")
        sup.wait_for_selector(f"#q-returned tr[data-id='{returned.id}']")
        sup.wait_for_selector(f"#q-extension tr[data-id='{ext.id}']")
        sup.wait_for_selector(f"#q-overdue tr[data-id='{late.id}']")
        sup.wait_for_selector(f"#q-review tr[data-id='{replied.id}']")
        assert "供水管网属自来水公司管辖" in sup.inner_text("#q-returned")
        shot(sup, "30-supervisor")
        # One click per decision, and the queues refresh live.
        sup.click(f"#q-overdue tr[data-id='{late.id}'] .do-press")
        sup.wait_for_function(f"() => document.querySelector(\"#q-overdue tr[data-id='{late.id}']\").textContent.includes('督办1次')", timeout=3000)
        sup.click(f"#q-extension tr[data-id='{ext.id}'] .do-approve")
        sup.wait_for_selector(f"#q-extension tr[data-id='{ext.id}']", state="detached", timeout=3000)
        sup.select_option(f"#q-returned tr[data-id='{returned.id}'] .redispatch-unit", str(city.water.id))
        with sup.expect_response(lambda r: r.url.endswith("/redispatch")) as resp:
            sup.click(f"#q-returned tr[data-id='{returned.id}'] .do-redispatch")
        assert resp.value.json()["unit"]["id"] == city.water.id
        sup.wait_for_selector(f"#q-returned tr[data-id='{returned.id}']", state="detached", timeout=3000)
        sup.click(f"#q-review tr[data-id='{replied.id}'] .do-review-ok")
        sup.wait_for_selector(f"#q-review tr[data-id='{replied.id}'] .do-close", timeout=3000)
        sup.click(f"#q-review tr[data-id='{replied.id}'] .do-close")
        sup.wait_for_selector(f"#q-review tr[data-id='{replied.id}']", state="detached", timeout=3000)
        assert not sup.errors

        lawyer = open_as("lawyer")
        assert lawyer.url.endswith("/expert")
        # The operator's three-way transfer rings this expert: their seat pops the caller too.
        hl.calls.set_state(city.expert, city.expert.user_id, "available")
        xfer = hl.calls.offered("13812345678")
        hl.calls.assign(xfer, city.expert.user_id)
        lawyer.wait_for_selector("#pop-card:not([hidden]) #pop-number", timeout=2000)
        assert lawyer.inner_text("#pop-number") == "13812345678"
        hl.calls.ended(xfer, "answered")
        lawyer.click(f"#queue tbody tr[data-id='{to_expert.id}']")
        lawyer.wait_for_selector("#expert-actions:not([hidden])")
        assert "13812345678" in lawyer.inner_text("#detail")  # the desk talks to the caller
        lawyer.fill("#x-answer", "可向劳动保障监察大队投诉，或申请劳动仲裁，仲裁时效一年。")
        shot(lawyer, "40-expert-seat")
        lawyer.click("#btn-answer")
        lawyer.wait_for_selector(f"#queue tbody tr[data-id='{to_expert.id}']", state="detached", timeout=3000)
        assert not lawyer.errors

        mgr = open_as("mgr")
        assert mgr.url.endswith("/dashboard")
        mgr.wait_for_function("() => window.HL_DASH && document.querySelector('#c-status canvas')", timeout=5000)
        waiting_before = mgr.evaluate("window.HL_DASH.calls_waiting")
        call_id = hl.calls.offered("13600002222")
        hl.calls.queued(call_id)  # a call waits in the queue: the dashboard updates by itself
        mgr.wait_for_function(f"() => window.HL_DASH.calls_waiting === {waiting_before + 1}", timeout=4000)
        assert mgr.inner_text("#k-waiting .v") == str(waiting_before + 1)
        assert mgr.get_attribute("#reports-link", "href") == "/reports/daily"
        shot(mgr, "50-manager-dashboard")
        hl.calls.ended(call_id, "abandoned")
        assert not mgr.errors
    finally:
        clock.advance(days=-12)


def test_supervisor_reopens_splits_and_refuses_with_inline_reasons(server, open_as):
    city, hl = server.city, server.city.hl
    from sqlalchemy import select

    from hotline.callbacks import Callback

    closed = city.closed(content="楼道灯修好后又不亮了")
    with hl.uow(readonly=True) as uow:
        cb = uow.session.scalar(select(Callback).where(Callback.ticket_id == closed.id))
    hl.tickets.record_callback(city.operator, cb.id, "basic", False, "只修了一半")
    master = city.dispatched(content="人民路井盖缺失，很危险")
    child = hl.tickets.merge(city.operator, city.new_ticket(content="想咨询社保卡补办").id, master.id)
    ext = city.signed(content="河道清淤需要协调")
    hl.tickets.request_extension(city.township_user, ext.id, 3, "需要等枯水期")
    sup = open_as("sup")
    dialogs: list[str] = []
    sup.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    row = f"#q-closed tr[data-id='{closed.id}']"
    sup.wait_for_selector(row)
    assert "基本满意" in sup.inner_text(row) and "未解决" in sup.inner_text(row)
    # 重办: the reason is asked in the row; an empty one is refused before any request.
    sup.click(f"{row} .do-ask[data-form='reopen']")
    sup.wait_for_selector(f"{row} .inline-form[data-form='reopen']:not([hidden])")
    sup.click(f"{row} .do-confirm")
    assert "请填写重办理由" in sup.inner_text("#toasts")
    sup.fill(f"{row} .reason-reopen", "回访未解决，请重新办理")
    shot(sup, "31-supervisor-reopen")
    with sup.expect_response(lambda r: r.url.endswith(f"/tickets/{closed.id}/reopen")) as resp:
        sup.press(f"{row} .reason-reopen", "Enter")
    assert resp.value.json()["status"] == "dispatched"
    sup.wait_for_selector(row, state="detached", timeout=3000)
    # 拆单: look the merged child up by its number.
    sup.fill("#lookup-number", child.number)
    sup.click("#lookup-btn")
    form = "#lookup-result .inline-form[data-form='split']:not([hidden])"
    sup.wait_for_selector(form)
    sup.fill(f"{form} input", "与主案不是同一诉求")
    with sup.expect_response(lambda r: r.url.endswith(f"/tickets/{child.id}/split")) as resp:
        sup.click(f"{form} .do-confirm")
    assert resp.value.json()["status"] == "accepted"
    sup.wait_for_function("() => document.querySelector('#lookup-result').textContent.includes('不可重办')", timeout=3000)
    # 不同意延期: the inline form, prefilled with the usual reason.
    erow = f"#q-extension tr[data-id='{ext.id}']"
    sup.click(f"{erow} .do-ask[data-form='refuse']")
    assert sup.input_value(f"{erow} .reason-refuse") == "请按原时限办结"
    with sup.expect_response(lambda r: r.url.endswith(f"/tickets/{ext.id}/extension/refuse")) as resp:
        sup.click(f"{erow} .do-confirm")
    assert resp.value.ok
    sup.wait_for_selector(erow, state="detached", timeout=3000)
    assert not dialogs and not sup.errors


def test_every_page_works_under_the_content_security_policy(server, open_as):
    """No inline script runs (CSP without 'unsafe-inline'), and no page of any role needs one."""
    pages = {"op1": ["/console"], "t01": ["/unit"], "sup": ["/supervisor", "/reports/daily?date=2026-11-22"],
             "lawyer": ["/expert"], "mgr": ["/dashboard", "/reports/monthly?month=2026-11"]}  # fmt: skip
    for user, paths in pages.items():
        page = open_as(user, wait_live=False)
        for path in paths:
            with page.expect_response(lambda r: r.url.endswith(path)) as resp:
                page.goto(server.url + path)
            csp = resp.value.headers["content-security-policy"]
            script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
            assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
            assert "frame-ancestors 'none'" in csp and resp.value.headers["x-frame-options"] == "DENY"
            page.wait_for_load_state("load")
            if "/reports/" in path:  # the trend chart is drawn by our own script file
                page.wait_for_selector("#trend-chart canvas", timeout=5000)
            elif path != "/reports/monthly?month=2026-11":
                page.wait_for_function("() => window.HL_LIVE && window.HL_LIVE.ready === true", timeout=5000)
        assert not page.errors, (user, page.errors)
    # An inline script would be refused: the policy is really enforced.
    page = open_as("mgr", wait_live=False)
    page.set_content("<html><body></body></html>")  # about:blank has no policy; use a served page instead
    page.goto(server.url + "/dashboard")
    page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
                             document.body.appendChild(s); }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__inline") is None
    assert any("Content Security Policy" in e for e in page.errors)
