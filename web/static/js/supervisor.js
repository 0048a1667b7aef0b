/* Supervisor: returned → re-dispatch, extensions → approve/refuse, overdue → press, replied → review
 * and close, merge candidates → merge. One click for each decision; the queues refresh live. */
(function () {
  "use strict";
  const { $, $$, esc } = HL;
  const unitOptions = $("#unit-options").innerHTML;
  const notes = new Map();
  const OPEN = ["accepted", "returned", "dispatched", "signed", "replied", "reviewed"];

  function head(t) {
    return '<a href="#" class="open-detail" data-id="' + t.id + '">' + esc(t.number) + "</a> " + HL.tags(t) + "<br>" + esc(t.title);
  }
  /* Re-render a queue; a live refresh keeps what the supervisor has already chosen in a row. */
  function fill(sel, items, rowFn) {
    const card = $(sel);
    const tbody = card.querySelector("tbody");
    const kept = {};
    $$("tr[data-id] select, tr[data-id] input", tbody).forEach((el) => {
      if (el.value) kept[el.closest("tr").dataset.id + "|" + el.className] = el.value;
    });
    card.querySelector("[data-count]").textContent = items.length;
    tbody.innerHTML = items.length ? items.map(rowFn).join("") : '<tr><td colspan="4" class="empty">暂无</td></tr>';
    $$("tr[data-id] select, tr[data-id] input", tbody).forEach((el) => {
      const v = kept[el.closest("tr").dataset.id + "|" + el.className];
      if (v) el.value = v;
    });
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
      '<button type="button" class="btn btn-sm btn-ok do-approve">同意</button> <button type="button" class="btn btn-sm btn-danger do-refuse">不同意</button></td></tr>');
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
        ? '<button type="button" class="btn btn-sm btn-ok do-review-ok">审核通过</button> <button type="button" class="btn btn-sm do-review-no">退回重办</button>'
        : '<button type="button" class="btn btn-sm btn-primary do-close">办结</button>') + "</td></tr>");
  });

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
    try { await Promise.all([loadReturned(), loadExtensions(), loadOverdue(), loadReview()]); } catch (e) { HL.toast(e.message, "err"); }
  }

  /* One click per decision (reasons are asked only where the rules require one). */
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button, a.open-detail");
    if (!b) return;
    const tr = b.closest("tr[data-id]");
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
    } else if (b.classList.contains("do-refuse")) {
      const reason = prompt("不同意延期的理由：", "请按原时限办结");
      if (!reason) return;
      done = await HL.act(() => HL.step(id, "extension/refuse", { reason, version }), "已不同意延期");
    } else if (b.classList.contains("do-press")) {
      done = await HL.act(() => HL.step(id, "press", { version, escalate: false }), "已督办");
    } else if (b.classList.contains("do-escalate")) {
      done = await HL.act(() => HL.step(id, "press", { version, escalate: true }), "已升级督办");
    } else if (b.classList.contains("do-review-ok")) {
      done = await HL.act(() => HL.step(id, "review", { approve: true, version }), "审核通过");
    } else if (b.classList.contains("do-review-no")) {
      const note = prompt("退回重办的意见：", "答复不完整，请补充办理情况");
      if (note === null) return;
      done = await HL.act(() => HL.step(id, "review", { approve: false, note, version }), "已退回承办单位");
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
