/* Supervisor: returned → re-dispatch, extensions → approve/refuse, overdue → press, replied → review
 * and close, merge candidates → merge, closed → reopen (重办), merged child → split (拆单). One click
 * for each decision; where the rules want a reason it is asked in a small form inside the row. The
 * queues refresh live. */
(function () {
  "use strict";
  const { $, $$, esc } = HL;
  const unitOptions = $("#unit-options").innerHTML;
  const notes = new Map();
  const OPEN = ["accepted", "returned", "dispatched", "signed", "replied", "reviewed"];

  function head(t) {
    return '<a href="#" class="open-detail" data-id="' + t.id + '">' + esc(t.number) + "</a> " + HL.tags(t) + "<br>" + esc(t.title);
  }
  /* A reason asked inside the row (never window.prompt): hidden until its button is clicked. */
  function inlineForm(step, placeholder, value, okText, okClass) {
    return '<div class="inline-form" data-form="' + step + '" hidden><input type="text" class="f reason-' + step + '" maxlength="500" placeholder="' +
      esc(placeholder) + '" value="' + esc(value || "") + '"><button type="button" class="btn btn-sm ' + okClass + ' do-confirm" data-step="' + step + '">' +
      esc(okText) + '</button><button type="button" class="btn btn-sm do-cancel">取消</button></div>';
  }
  /* Re-render a queue; a live refresh keeps what the supervisor has already chosen or typed in a
   * row, the reason forms left open, and the field being typed in. */
  function fill(sel, items, rowFn) {
    const card = $(sel);
    const tbody = card.querySelector("tbody");
    const kept = {};
    const open = new Set();
    const key = (el) => el.closest("tr").dataset.id + "|" + el.className;
    $$("tr[data-id] select, tr[data-id] input", tbody).forEach((el) => { if (el.value) kept[key(el)] = el.value; });
    $$("tr[data-id] .inline-form:not([hidden])", tbody).forEach((el) => open.add(el.closest("tr").dataset.id + "|" + el.dataset.form));
    const active = document.activeElement && tbody.contains(document.activeElement) && document.activeElement.closest("tr[data-id]")
      ? { key: key(document.activeElement), pos: document.activeElement.selectionStart } : null;
    card.querySelector("[data-count]").textContent = items.length;
    tbody.innerHTML = items.length ? items.map(rowFn).join("") : '<tr><td colspan="4" class="empty">暂无</td></tr>';
    $$("tr[data-id] select, tr[data-id] input", tbody).forEach((el) => {
      const k = key(el);
      if (k in kept) el.value = kept[k];
      if (active && active.key === k) {
        el.focus();
        if (active.pos != null && el.setSelectionRange) el.setSelectionRange(active.pos, active.pos);
      }
    });
    $$("tr[data-id] .inline-form", tbody).forEach((el) => { if (open.has(el.closest("tr").dataset.id + "|" + el.dataset.form)) el.hidden = false; });
  }
  function lastNote(t, action) {
    const ev = (t.events || []).slice().reverse().find((e) => e.action === action);
    return ev ? ev.note || "" : "";
  }

  const loadReturned = HL.latest(async (current) => {
    const r = await HL.get("/api/v1/tickets?status=returned&per_page=30&order=newest");
    // The return reason is in the ticket's log: fetch it once per ticket version, not on every refresh.
    const full = await Promise.all(r.items.map((t) => {
      const hit = notes.get(t.id);
      if (hit && hit.version === t.version) return hit;
      return HL.get("/api/v1/tickets/" + t.id).then((d) => { notes.set(t.id, d); return d; }, () => t);
    }));
    if (!current()) return;
    fill("#q-returned", full, (t) => '<tr data-id="' + t.id + '" data-version="' + t.version + '"><td>' + head(t) + "</td><td>" +
      esc(t.unit ? t.unit.name : "") + "<br><span class='muted'>" + esc(lastNote(t, "return")) + "</span></td><td>" +
      '<select class="f redispatch-unit">' + unitOptions + '</select><button type="button" class="btn btn-sm btn-primary do-redispatch">改派</button></td></tr>');
  });
  const loadExtensions = HL.latest(async (current) => {
    const r = await HL.get("/api/v1/tickets?pending_extension=true&per_page=30&order=due");
    if (!current()) return;
    fill("#q-extension", r.items, (t) => '<tr data-id="' + t.id + '" data-version="' + t.version + '"><td>' + head(t) + "</td><td>" +
      esc(t.unit ? t.unit.name : "") + "<br>延期 " + t.pending_extension.days + " 个工作日：<span class='muted'>" + esc(t.pending_extension.reason) +
      "</span><br><span class='muted'>现时限 " + HL.fmt(t.due_at) + "</span></td><td>" +
      '<button type="button" class="btn btn-sm btn-ok do-approve">同意</button> <button type="button" class="btn btn-sm btn-danger do-ask" data-form="refuse">不同意</button>' +
      inlineForm("refuse", "不同意延期的理由（必填）", "请按原时限办结", "确认不同意", "btn-danger") + "</td></tr>");
  });
  const loadOverdue = HL.latest(async (current) => {
    const r = await HL.get("/api/v1/tickets?overdue=true&per_page=50&order=due");
    if (!current()) return;
    fill("#q-overdue", r.items, (t) => '<tr data-id="' + t.id + '" data-version="' + t.version + '"><td>' + HL.light(t.light) + "</td><td>" + head(t) +
      "</td><td>" + esc(t.unit ? t.unit.name : "") + "<br><span class='muted'>" + HL.fmt(t.due_at) + " · " + HL.left(t.due_at) + "</span></td><td>" +
      '<button type="button" class="btn btn-sm btn-warn do-press">督办</button> ' +
      '<button type="button" class="btn btn-sm btn-danger do-escalate" title="再次超期：升级督办">升级</button></td></tr>');
  });
  const loadReview = HL.latest(async (current) => {
    const r = await HL.get("/api/v1/tickets?status=replied,reviewed&per_page=50&order=newest");
    if (!current()) return;
    fill("#q-review", r.items, (t) => '<tr data-id="' + t.id + '" data-version="' + t.version + '"><td>' + head(t) + "</td><td>" +
      esc(t.unit ? t.unit.name : "") + "：<span class='muted'>" + esc((t.outcome || "").slice(0, 80)) + "</span></td><td>" +
      (t.status === "replied"
        ? '<button type="button" class="btn btn-sm btn-ok do-review-ok">审核通过</button> <button type="button" class="btn btn-sm do-ask" data-form="review-no">退回重办</button>' +
          inlineForm("review-no", "退回意见", "答复不完整，请补充办理情况", "确认退回", "btn-warn")
        : '<button type="button" class="btn btn-sm btn-primary do-close">办结</button>') + "</td></tr>");
  });
  /* 重办: of the newest closed tickets, those whose callback was less than 满意 or found the problem
   * unsolved (an 不满意 callback reopens by itself; a merged child follows its master). */
  const loadClosed = HL.latest(async (current) => {
    const r = await HL.get("/api/v1/tickets?status=closed&per_page=100&order=newest");
    if (!current()) return;
    const items = r.items.filter((t) => !t.master_id && ((t.satisfaction && t.satisfaction !== "satisfied") || t.solved === false));
    fill("#q-closed", items, (t) => '<tr data-id="' + t.id + '" data-version="' + t.version + '"><td>' + head(t) + "</td><td>" +
      esc(t.unit ? t.unit.name : "（无承办单位）") + "<br><span class='muted'>办结 " + HL.fmt(t.closed_at) + " · 回访：" +
      esc(t.satisfaction_label || "—") + (t.solved === false ? "，未解决" : "") + "</span></td><td>" +
      '<button type="button" class="btn btn-sm btn-warn do-ask" data-form="reopen">重办</button>' +
      inlineForm("reopen", "重办理由（必填）", "", "确认重办", "btn-warn") + "</td></tr>");
  });

  /* Look a closed or merged ticket up by its number: reopen it, split it (or its merged children) out. */
  let lookedUp = null;
  function lookupItem(t, body) {
    return '<div class="lookup-item" data-id="' + t.id + '" data-version="' + t.version + '"><a href="#" class="open-detail" data-id="' + t.id + '">' +
      esc(t.number) + "</a> " + HL.status(t) + " " + HL.tags(t) + " " + esc(t.title) + "<br>" + body + "</div>";
  }
  async function lookup(number) {
    const box = $("#lookup-result");
    number = (number || "").trim();
    if (!number) { box.innerHTML = ""; lookedUp = null; return; }
    let t;
    try { t = await HL.get("/api/v1/tickets/by-number/" + encodeURIComponent(number)); } catch (e) {
      box.innerHTML = '<div class="empty">' + esc(e.status === 404 ? "未找到工单 " + number : e.message) + "</div>";
      lookedUp = null;
      return;
    }
    lookedUp = number;
    const unit = "<span class='muted'>" + esc(t.unit ? t.unit.name : "（无承办单位）") + (t.closed_at ? " · 办结 " + HL.fmt(t.closed_at) : "") +
      (t.satisfaction_label ? " · 回访：" + esc(t.satisfaction_label) : "") + (t.solved === false ? "，未解决" : "") + "</span>";
    let body;
    if (t.status === "closed" && !t.master_id) {
      body = unit + inlineForm("reopen", "重办理由（必填）", "", "重办", "btn-warn");
    } else if (t.status === "merged" && t.master_id) {
      body = unit + "<br>已并入主案（ID " + t.master_id + '，<a href="#" class="open-detail" data-id="' + t.master_id + '">查看</a>）' +
        inlineForm("split", "拆单理由（必填），拆出后回到话务重新受理", "", "拆单", "btn-danger");
    } else if (t.master_id) {
      body = unit + '<br><span class="muted">并单子工单随主案办理，请重办主案（<a href="#" class="open-detail" data-id="' + t.master_id + '">查看主案</a>）</span>';
    } else {
      body = unit + '<br><span class="muted">当前状态「' + esc(t.status_label) + "」不可重办" + (t.status === "closed" ? "" : "（仅已办结工单可重办）") + "</span>";
    }
    // A master: its merged children, each of which may be split back out.
    let kids = [];
    try { kids = (await HL.get("/api/v1/tickets?master_id=" + t.id + "&per_page=50")).items; } catch (e) { kids = []; }
    if (lookedUp !== number) return;
    const merged = kids.filter((c) => c.status === "merged");
    if (merged.length) {
      body += '<div class="children">并入本案的子工单：' + merged.map((c) => lookupItem(c,
        '<button type="button" class="btn btn-sm btn-danger do-ask" data-form="split">拆单</button>' +
        inlineForm("split", "拆单理由（必填），拆出后回到话务重新受理", "", "确认拆单", "btn-danger"))).join("") + "</div>";
    }
    box.innerHTML = lookupItem(t, body);
    const first = box.firstElementChild.querySelector(":scope > .inline-form");
    if (first) first.hidden = false;  // looked up for this: the form is open at once
  }
  $("#lookup-form").addEventListener("submit", (ev) => { ev.preventDefault(); lookup($("#lookup-number").value); });

  /* Merge candidates: for the newest open tickets, the similar open tickets the classifier finds. */
  const loadMerge = HL.latest(async (current) => {
    const box = $("#merge-body");
    let r;
    try { r = await HL.get("/api/v1/tickets?status=accepted,returned,dispatched,signed&per_page=15&order=newest"); } catch (e) { return; }
    const pairs = [];
    const seen = new Set();
    let available = true;
    await Promise.all(r.items.map(async (t) => {
      let s;
      try {
        s = await HL.get("/api/v1/tickets/similar?text=" + encodeURIComponent((t.title + " " + t.content).slice(0, 1000)) + "&area=" + encodeURIComponent(t.area || ""));
      } catch (e) { available = false; return; }
      (s.items || []).forEach((m) => {
        if (m.id === t.id || !OPEN.includes(m.status) || (m.score || 0) < 0.5) return;
        const [child, master] = t.id > m.id ? [t, m] : [m, t];
        const key = child.id + ":" + master.id;
        if (seen.has(key) || t.master_id) return;
        seen.add(key);
        pairs.push({ child, master, score: m.score });
      });
    }));
    if (!current()) return;
    $("#q-merge [data-count]").textContent = pairs.length;
    if (!available && !pairs.length) { box.innerHTML = '<div class="empty">暂无建议（相似工单服务未启用）</div>'; return; }
    if (!pairs.length) { box.innerHTML = '<div class="empty">暂无并单候选</div>'; return; }
    pairs.sort((a, b) => b.score - a.score);
    box.innerHTML = pairs.map((p) => '<div class="pair" data-child="' + p.child.id + '" data-master="' + p.master.id + '">' +
      "<b>" + esc(p.child.number) + "</b> " + esc(p.child.title) + "<br>→ 并入主案 <b>" + esc(p.master.number) + "</b> " + esc(p.master.title) +
      " <span class='muted'>相似度 " + Math.round(p.score * 100) + "%</span> " +
      '<button type="button" class="btn btn-sm btn-primary do-merge">并单</button></div>').join("");
  });

  async function loadAll() {
    try { await Promise.all([loadReturned(), loadExtensions(), loadOverdue(), loadReview(), loadClosed()]); } catch (e) { HL.toast(e.message, "err"); }
  }

  const STEPS = {
    refuse: { path: "extension/refuse", body: (v) => ({ reason: v }), ok: "已不同意延期", need: "请填写不同意延期的理由" },
    "review-no": { path: "review", body: (v) => ({ approve: false, note: v }), ok: "已退回承办单位" },
    reopen: { path: "reopen", body: (v) => ({ reason: v }), ok: "已重办", need: "请填写重办理由" },
    split: { path: "split", body: (v) => ({ note: v }), ok: "已拆单，工单回到话务待重新派单", need: "请填写拆单理由" },
  };
  async function confirmForm(form, id, version) {
    const step = STEPS[form.dataset.form];
    const input = form.querySelector("input");
    const value = input.value.trim();
    if (step.need && !value) { HL.toast(step.need, "err"); input.focus(); return null; }
    const done = await HL.act(() => HL.step(id, step.path, Object.assign(step.body(value), { version })), step.ok);
    if (done && lookedUp) lookup(lookedUp);
    return done;
  }

  /* One click per decision (reasons are asked only where the rules require one). */
  document.addEventListener("keydown", (ev) => {
    const form = ev.target.closest && ev.target.closest(".inline-form");
    if (!form) return;
    if (ev.key === "Enter") { ev.preventDefault(); form.querySelector(".do-confirm").click(); }
    else if (ev.key === "Escape") form.querySelector(".do-cancel").click();
  });
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button, a.open-detail");
    if (!b) return;
    const tr = b.closest("tr[data-id], .lookup-item[data-id]");
    const id = tr ? Number(tr.dataset.id) : null;
    const version = tr ? Number(tr.dataset.version) : null;
    let done = null;
    if (b.classList.contains("open-detail")) {
      ev.preventDefault();
      const t = await HL.act(() => HL.get("/api/v1/tickets/" + b.dataset.id));
      if (t) { $("#detail").innerHTML = HL.detailHtml(t); $("#detail-card").hidden = false; $("#detail-card").scrollIntoView({ behavior: "smooth" }); }
      return;
    } else if (b.classList.contains("do-redispatch")) {
      const unitId = Number(tr.querySelector(".redispatch-unit").value);
      if (!unitId) { HL.toast("请选择改派单位", "err"); return; }
      done = await HL.act(() => HL.step(id, "redispatch", { unit_id: unitId, version }), "已改派");
    } else if (b.classList.contains("do-approve")) {
      done = await HL.act(() => HL.step(id, "extension/approve", { version }), "已同意延期");
    } else if (b.classList.contains("do-ask")) {
      const form = tr.querySelector('.inline-form[data-form="' + b.dataset.form + '"]');
      form.hidden = !form.hidden;
      if (!form.hidden) { const input = form.querySelector("input"); input.focus(); input.select(); }
    } else if (b.classList.contains("do-cancel")) {
      b.closest(".inline-form").hidden = true;
    } else if (b.classList.contains("do-confirm")) {
      b.disabled = true;
      try { done = await confirmForm(b.closest(".inline-form"), id, version); } finally { b.disabled = false; }
    } else if (b.classList.contains("do-press")) {
      done = await HL.act(() => HL.step(id, "press", { version, escalate: false }), "已督办");
    } else if (b.classList.contains("do-escalate")) {
      done = await HL.act(() => HL.step(id, "press", { version, escalate: true }), "已升级督办");
    } else if (b.classList.contains("do-review-ok")) {
      done = await HL.act(() => HL.step(id, "review", { approve: true, version }), "审核通过");
    } else if (b.classList.contains("do-close")) {
      done = await HL.act(() => HL.step(id, "close", { version }), "已办结");
    } else if (b.classList.contains("do-merge")) {
      const p = b.closest(".pair");
      done = await HL.act(() => HL.step(Number(p.dataset.child), "merge", { master_id: Number(p.dataset.master) }), "已并单");
      if (done) loadMerge();
    } else if (b.id === "merge-refresh") {
      loadMerge();
    } else if (b.id === "detail-close") {
      $("#detail-card").hidden = true;
    }
    if (done) loadAll();
  });

  const reload = HL.coalesce(loadAll, 700);
  HL.live({ ready: loadAll, resync: loadAll, ticket: reload });
  loadAll();
  loadMerge();
  setInterval(loadAll, 60000);
})();
