/* Expert seat: tickets transferred to the desk; answer and close, or hand back to the call hall. */
(function () {
  "use strict";
  const { $, $$, esc } = HL;
  const desk = HL.user.unitId;
  let selected = null;

  /* Seat state (the three-way transfers ring only an available seat). */
  const seat = HL.seatState();

  const loadQueue = HL.latest(async (current, flashId) => {
    let r, done;
    try {
      [r, done] = await Promise.all([
        HL.get("/api/v1/tickets?status=accepted&expert_unit_id=" + desk + "&per_page=50&order=newest"),
        HL.get("/api/v1/tickets?status=closed&expert_unit_id=" + desk + "&per_page=15&order=newest"),
      ]);
    } catch (e) { HL.toast(e.message, "err"); return; }
    if (!current()) return;
    const tbody = $("#queue tbody");
    tbody.innerHTML = r.items.map((t) => '<tr data-id="' + t.id + '"' + (selected && selected.id === t.id ? ' class="sel"' : "") + "><td>" +
      esc(t.number) + "</td><td>" + esc(t.title) + "<br>" + HL.tags(t) + "</td><td>" + HL.caller(t.caller) + "</td><td>" + HL.fmt(t.updated_at) + "</td></tr>").join("");
    $("#queue-count").textContent = r.total;
    $("#queue-empty").hidden = r.items.length > 0;
    $$("tr[data-id]", tbody).forEach((tr) => tr.addEventListener("click", () => select(Number(tr.dataset.id))));
    if (flashId) { const tr = tbody.querySelector('tr[data-id="' + flashId + '"]'); if (tr) tr.classList.add("flash-row"); }
    $("#answered tbody").innerHTML = done.items.map((t) => "<tr><td>" + esc(t.number) + "</td><td>" + esc(t.title) + "</td><td>" +
      HL.status(t) + "</td><td>" + HL.fmt(t.closed_at) + "</td></tr>").join("") || '<tr><td colspan="4" class="empty">暂无</td></tr>';
  });
  async function select(id) {
    const t = await HL.act(() => HL.get("/api/v1/tickets/" + id));
    if (!t) return;
    selected = t;
    $$("#queue tr").forEach((tr) => tr.classList.toggle("sel", Number(tr.dataset.id) === id));
    $("#detail").className = "";
    $("#detail").innerHTML = HL.detailHtml(t);
    $("#expert-actions").hidden = !(t.status === "accepted" && t.expert_unit && t.expert_unit.id === desk);
  }
  $("#btn-answer").addEventListener("click", async () => {
    const answer = $("#x-answer").value.trim();
    if (!selected || !answer) { HL.toast("请填写答复内容", "err"); return; }
    const t = await HL.act(() => HL.step(selected.id, "close-first-contact", { answer, version: selected.version }), "已答复办结");
    if (t) { $("#x-answer").value = ""; select(t.id); loadQueue(); }
  });
  $("#btn-handback").addEventListener("click", async () => {
    const note = $("#x-note").value.trim();
    if (!selected || !note) { HL.toast("请填写退回说明", "err"); return; }
    const t = await HL.act(() => HL.step(selected.id, "hand-back", { note, version: selected.version }), "已退回话务");
    if (t) { $("#x-note").value = ""; selected = null; $("#detail").className = "empty"; $("#detail").textContent = "点击左侧工单查看详情"; $("#expert-actions").hidden = true; loadQueue(); }
  });
  async function searchKb(q) {
    const r = await HL.act(() => HL.get("/api/v1/knowledge?q=" + encodeURIComponent(q || "")));
    if (!r) return;
    $("#kb-body").innerHTML = r.items.map((a, i) => '<div class="kb-item" data-i="' + i + '"><a href="#" class="kb-title">' + esc(a.title) +
      '</a> <button type="button" class="btn btn-sm kb-use">引用</button><div class="body">' + esc(a.body) + "</div></div>").join("") || '<div class="empty">未找到相关知识</div>';
    $$(".kb-item").forEach((el) => {
      const a = r.items[Number(el.dataset.i)];
      el.querySelector(".kb-title").addEventListener("click", (ev) => { ev.preventDefault(); el.classList.toggle("open"); });
      el.querySelector(".kb-use").addEventListener("click", () => { $("#x-answer").value = a.body; });
    });
  }
  $("#kb-btn").addEventListener("click", () => searchKb($("#kb-q").value.trim()));
  $("#kb-q").addEventListener("keydown", (e) => { if (e.key === "Enter") searchKb($("#kb-q").value.trim()); });

  /* A call transferred to this expert (three-way): who it is and what they asked before. */
  async function popCall(callId) {
    const p = await HL.act(() => HL.get("/workbench/calls/" + callId + "/pop"));
    if (!p) return;
    const c = p.caller || {};
    $("#pop-body").innerHTML = '<div class="number" id="pop-number">' + esc(c.phone || p.number || "未知号码") + "</div>" +
      (c.known ? esc(c.name || "") + " · 历史工单 " + (c.ticket_count || 0) + " 件" : "首次来电") +
      (p.tickets || []).slice(0, 5).map((t) => "<div>" + esc(t.number) + " " + HL.status(t) + " " + esc(t.title) + "</div>").join("");
    $("#pop-card").hidden = false;
    $("#pop-card").classList.add("pop");
    HL.beep();
  }
  $("#pop-close").addEventListener("click", () => { $("#pop-card").hidden = true; });

  HL.live({
    call_pop: (d) => popCall(d.call_id),
    operator_state: (d) => { if (d.user_id === HL.user.id) seat.show(d.state, d.at); },
    ready: () => loadQueue(),
    resync: () => { loadQueue(); seat.load(); },
    ticket: (ev) => {
      if (ev.action === "transfer_to_expert") { HL.beep(); HL.toast("转入工单：" + ev.number, "new"); loadQueue(ev.ticket_id); }
      else loadQueue();
      if (selected && selected.id === ev.ticket_id) select(ev.ticket_id);
    },
  });
  loadQueue();
  seat.load();
  searchKb("");
  setInterval(() => loadQueue(), 60000);
})();
