/* Member unit workbench: the inbox with traffic lights, sign / return / extension / reply, and new
 * tickets arriving live with a chime and a counter. */
(function () {
  "use strict";
  const { $, $$, esc } = HL;
  const myUnit = HL.user.unitId;
  let selected = null;
  let newCount = 0;
  const fresh = new Set();

  function setNew(n) {
    newCount = n;
    const b = $("#new-count");
    b.textContent = "新工单 " + n;
    b.classList.toggle("zero", n === 0);
    document.title = (n ? "(" + n + ") " : "") + "成员单位工作台 - 12345";
  }
  $("#new-count").addEventListener("click", () => { setNew(0); fresh.clear(); });

  function isLead(t) { return t.unit && t.unit.id === myUnit; }
  function coOf(t) { return (t.co_units || []).find((c) => c.id === myUnit); }

  function row(t) {
    const co = !isLead(t);
    return '<tr data-id="' + t.id + '" data-number="' + esc(t.number) + '" data-light="' + (t.light || "") + '"' +
      (selected && selected.id === t.id ? ' class="sel"' : "") + ">" +
      "<td>" + HL.light(t.light) + "</td><td>" + esc(t.number) + (fresh.has(t.id) ? ' <span class="tag tag-red">新</span>' : "") + "</td>" +
      "<td>" + esc(t.title) + "<br>" + HL.tags(t) + (co ? '<span class="tag">协办</span>' : "") + "</td>" +
      "<td>" + esc(t.type_label) + "</td><td>" + HL.status(t) + "</td>" +
      "<td>" + HL.fmt(t.due_at) + "<br><span class='muted'>" + HL.left(t.due_at) + "</span></td></tr>";
  }
  const loadInbox = HL.latest(async (current, flashId) => {
    let r;
    try { r = await HL.get("/api/v1/inbox?per_page=100"); } catch (e) { HL.toast(e.message, "err"); return; }
    if (!current()) return;
    const tbody = $("#inbox tbody");
    tbody.innerHTML = r.items.map(row).join("");
    $("#inbox-count").textContent = r.total;
    $("#inbox-empty").hidden = r.items.length > 0;
    $$("tr[data-id]", tbody).forEach((tr) => tr.addEventListener("click", () => select(Number(tr.dataset.id))));
    if (flashId) {
      const tr = tbody.querySelector('tr[data-id="' + flashId + '"]');
      if (tr) tr.classList.add("flash-row");
    }
  });
  HL.loadDone = async function () {
    const r = await HL.act(() => HL.get("/api/v1/tickets?status=replied,reviewed,closed&per_page=30&unit_id=" + myUnit));
    if (!r) return;
    const tbody = $("#done tbody");
    tbody.innerHTML = r.items.map((t) => '<tr data-id="' + t.id + '"><td>' + esc(t.number) + "</td><td>" + esc(t.title) +
      "</td><td>" + HL.status(t) + "</td><td>" + HL.fmt(t.replied_at) + "</td></tr>").join("") ||
      '<tr><td colspan="4" class="empty">暂无</td></tr>';
    $$("tr[data-id]", tbody).forEach((tr) => tr.addEventListener("click", () => select(Number(tr.dataset.id))));
  };

  async function select(id) {
    let t;
    try { t = await HL.get("/api/v1/tickets/" + id); } catch (e) { HL.toast(e.message, "err"); clearDetail(); return; }
    selected = t;
    fresh.delete(id);
    $$("#inbox tr").forEach((tr) => tr.classList.toggle("sel", Number(tr.dataset.id) === id));
    $("#detail").className = "";
    $("#detail").innerHTML = HL.detailHtml(t);
    const lead = isLead(t), co = coOf(t);
    const atUnit = t.status === "dispatched" || t.status === "signed";
    $("#unit-actions").hidden = !atUnit;
    $("#btn-sign").hidden = !((lead && t.status === "dispatched") || (co && !co.signed_at));
    $("#btn-show-return").hidden = !(lead && atUnit);
    $("#btn-show-ext").hidden = !(lead && t.status === "signed" && !t.pending_extension);
    $("#btn-show-reply").hidden = !((lead && t.status === "signed") || (co && co.signed_at));
    $("#btn-show-reply").textContent = lead ? "回复办理结果" : "提交协办意见";
    $("#reply-label").textContent = lead ? "办理结果（将用于回访）" : "协办意见";
    ["#form-return", "#form-ext", "#form-reply"].forEach((f) => { $(f).hidden = true; });
  }
  function clearDetail() {
    selected = null;
    $("#detail").className = "empty";
    $("#detail").textContent = "点击左侧工单查看详情";
    $("#unit-actions").hidden = true;
  }
  const toggle = (id) => () => ["#form-return", "#form-ext", "#form-reply"].forEach((f) => { $(f).hidden = f === id ? !$(f).hidden : true; });
  $("#btn-show-return").addEventListener("click", toggle("#form-return"));
  $("#btn-show-ext").addEventListener("click", toggle("#form-ext"));
  $("#btn-show-reply").addEventListener("click", toggle("#form-reply"));

  async function step(name, body, okMsg) {
    if (!selected) return;
    const t = await HL.act(() => HL.step(selected.id, name, Object.assign({ version: selected.version }, body || {})), okMsg);
    if (t) {
      await loadInbox();
      if (t.status === "dispatched" || t.status === "signed") select(t.id); else { selected = t; $("#detail").innerHTML = HL.detailHtml(t); $("#unit-actions").hidden = true; }
    }
  }
  $("#btn-sign").addEventListener("click", () => step("sign", {}, "已签收"));
  $("#btn-return").addEventListener("click", () => {
    const reason = $("#return-reason").value.trim();
    if (!reason) { HL.toast("请填写退单理由", "err"); return; }
    step("return", { reason }, "已退单");
  });
  $("#btn-ext").addEventListener("click", () => {
    const days = parseInt($("#ext-days").value, 10), reason = $("#ext-reason").value.trim();
    if (!days || days < 1) { HL.toast("请填写延期工作日", "err"); return; }
    if (!reason) { HL.toast("请填写延期理由", "err"); return; }
    step("extension", { days, reason }, "延期申请已提交");
  });
  $("#btn-reply").addEventListener("click", () => {
    const outcome = $("#reply-outcome").value.trim();
    if (!outcome) { HL.toast("请填写办理结果", "err"); return; }
    step("reply", { outcome }, "已回复");
  });

  const reload = HL.debounce(() => loadInbox(), 150);
  HL.tabs($("#inbox-card"));
  HL.live({
    ready: () => loadInbox(),
    resync: () => loadInbox(),
    ticket: (ev) => {
      const arrived = ["dispatch", "redispatch", "reopen", "reopen_with_master"].includes(ev.action) && (ev.unit_ids || [myUnit]).includes(myUnit);
      if (arrived) {
        fresh.add(ev.ticket_id);
        setNew(newCount + 1);
        HL.beep();
        HL.toast("新工单：" + ev.number, "new");
        loadInbox(ev.ticket_id);
      } else {
        reload();
      }
      if (selected && selected.id === ev.ticket_id) select(ev.ticket_id);
    },
    ticket_removed: (ev) => {
      reload();
      if (selected && selected.id === ev.ticket_id) { clearDetail(); HL.toast("该工单已改派或退回，已从本单位移除"); }
    },
  });
  loadInbox();
  setInterval(() => loadInbox(), 60000); // the lights move with the clock
})();
