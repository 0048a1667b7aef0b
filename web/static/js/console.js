/* Operator console: seat state, screen-pop, the ticket form with live suggestions, knowledge base,
 * and the intake decisions (dispatch, close at first contact, reject, merge, transfer to an expert). */
(function () {
  "use strict";
  const { $, $$, esc } = HL;
  let current = null; // the ticket accepted from this form (kept after accept until 新建)
  let masterId = null;
  const mine = new Map();

  /* Seat state (the three-way transfers ring only an available seat). */
  const seat = HL.seatState();

  /* ------------------------------------------------------------ screen-pop and caller history */
  function renderHistory(h, callInfo) {
    const c = h.caller || {};
    let html = "";
    if (callInfo) $("#pop-line").textContent = "热线 " + (callInfo.line || "");
    html += '<div class="number" id="pop-number">' + esc(c.phone || (callInfo && callInfo.number) || "未知号码") + "</div>";
    html += "<div>" + (c.known ? esc(c.name || "（未留姓名）") + " · 历史工单 " + (c.ticket_count || 0) + " 件" : "首次来电") +
      (c.special_group ? ' <span class="tag tag-green">' + esc(c.special_group) + " · 绿色通道</span>" : "") + "</div>";
    const ts = h.tickets || [];
    if (ts.length) {
      html += '<table class="list" id="pop-history"><thead><tr><th>受理</th><th>标题</th><th>状态</th></tr></thead><tbody>' +
        ts.map((t) => "<tr><td>" + HL.fmt(t.accepted_at).slice(0, 5) + "</td><td>" + esc(t.title) + "<br><span class='muted'>" +
          esc(t.number) + (t.unit ? " · " + esc(t.unit.name) : "") + "</span></td><td>" + HL.status(t) + "</td></tr>").join("") +
        "</tbody></table>";
    }
    $("#pop-body").className = "";
    $("#pop-body").innerHTML = html;
    if (c.phone) $("#f-phone").value = c.phone;
    if (c.name && !$("#f-name").value) $("#f-name").value = c.name;
    if (c.special_group) $("#f-green").checked = true;
  }
  async function popCall(callId) {
    try {
      const p = await HL.get("/workbench/calls/" + callId + "/pop");
      resetForm();
      $("#f-call-id").value = p.call_id;
      if (p.line) $("#f-line").value = p.line;
      renderHistory(p, p);
      $("#pop-card").classList.add("pop");
      HL.beep();
      HL.toast("来电：" + (p.number || "未知号码"), "new");
      $("#f-content").focus();
    } catch (e) { HL.toast(e.message, "err"); }
  }
  $("#lookup-btn").addEventListener("click", async () => {
    const phone = $("#lookup-phone").value.trim();
    if (!phone) return;
    const h = await HL.act(() => HL.get("/api/v1/callers/" + encodeURIComponent(phone) + "/history"));
    if (h) renderHistory(h, null);
  });

  /* ------------------------------------------------------------ suggestions and similar tickets */
  const fetchHints = HL.debounce(async () => {
    const text = $("#f-content").value.trim();
    if (text.length < 4) return;
    const q = encodeURIComponent(text.slice(0, 2000));
    HL.get("/api/v1/suggest?text=" + q).then(renderSuggest, () => renderSuggest(null));
    HL.get("/api/v1/tickets/similar?text=" + q + "&area=" + encodeURIComponent($("#f-area").value.trim())).then(renderSimilar, () => renderSimilar(null));
  }, 400);
  $("#f-content").addEventListener("input", fetchHints);
  $("#f-area").addEventListener("change", fetchHints);

  function renderSuggest(r) {
    const box = $("#suggest-body");
    if (!r || !r.available || !r.choices || !r.choices.length) {
      box.className = "empty";
      box.innerHTML = "暂无建议";
      return;
    }
    box.className = "";
    box.innerHTML = (r.unsure ? '<div class="tag tag-yellow">把握不大，请人工判断</div>' : "") +
      r.choices.slice(0, 5).map((c) => {
        const p = Math.round((c.probability || 0) * 100);
        return '<div class="sugg" data-unit="' + c.unit_id + '"><b>' + esc(c.unit_name || c.label) + "</b> <span class='muted'>" + p +
          '%</span><div class="bar"><i style="width:' + p + '%"></i></div></div>';
      }).join("") +
      (r.keywords && r.keywords.length ? '<div class="muted" style="margin-top:6px">关键词：' +
        r.keywords.slice(0, 8).map((k) => '<span class="kw">' + esc(k[0]) + "</span>").join("") + "</div>" : "");
    $$(".sugg", box).forEach((el) => el.addEventListener("click", () => {
      $("#d-unit").value = el.dataset.unit;
      $$("#action-tabs button")[0].click();
      HL.toast("主办单位：" + el.querySelector("b").textContent);
    }));
  }
  function renderSimilar(r) {
    const box = $("#similar-body");
    const items = r && r.items ? r.items.filter((t) => !current || t.id !== current.id) : [];
    if (!items.length) {
      box.className = "empty";
      box.innerHTML = r ? "没有相似的在办工单" : "暂无建议";
      return;
    }
    box.className = "";
    box.innerHTML = items.slice(0, 6).map((t) =>
      '<div class="sugg" data-id="' + t.id + '" data-number="' + esc(t.number) + '"><b>' + esc(t.number) + "</b> " +
      '<span class="status status-' + esc(t.status) + '">' + esc(HL.labels.status[t.status] || t.status) + "</span> " +
      "<span class='muted'>相似度 " + Math.round((t.score || 0) * 100) + "%</span><br>" + esc(t.title) +
      ' <button type="button" class="btn btn-sm pick-master">并入此单</button></div>').join("");
    $$(".pick-master", box).forEach((b) => b.addEventListener("click", (ev) => {
      ev.stopPropagation();
      const el = b.closest(".sugg");
      masterId = Number(el.dataset.id);
      $("#m-master").textContent = el.dataset.number;
      $("#do-merge").disabled = false;
      $$("#action-tabs button")[3].click();
    }));
  }

  /* ------------------------------------------------------------ knowledge base */
  async function searchKb(q) {
    const r = await HL.act(() => HL.get("/api/v1/knowledge?q=" + encodeURIComponent(q || "")));
    const box = $("#kb-body");
    if (!r) return;
    if (!r.items.length) { box.innerHTML = '<div class="empty">未找到相关知识</div>'; return; }
    box.innerHTML = r.items.map((a, i) => '<div class="kb-item" data-i="' + i + '"><a href="#" class="kb-title">' + esc(a.title) + "</a> " +
      '<button type="button" class="btn btn-sm kb-use">引用答复</button><div class="body">' + esc(a.body) + "</div></div>").join("");
    $$(".kb-item", box).forEach((el) => {
      const a = r.items[Number(el.dataset.i)];
      el.querySelector(".kb-title").addEventListener("click", (ev) => { ev.preventDefault(); el.classList.toggle("open"); });
      el.querySelector(".kb-use").addEventListener("click", () => {
        $("#a-answer").value = a.body;
        $("#f-type").value = $("#f-type").value === "help" ? "inquiry" : $("#f-type").value;
        $$("#action-tabs button")[1].click();
      });
    });
  }
  $("#kb-btn").addEventListener("click", () => searchKb($("#kb-q").value.trim()));
  $("#kb-q").addEventListener("keydown", (e) => { if (e.key === "Enter") searchKb($("#kb-q").value.trim()); });

  /* ------------------------------------------------------------ the form and the decisions */
  function formData() {
    const v = (id) => $(id).value.trim();
    const d = {
      content: v("#f-content"), type: v("#f-type"), urgency: v("#f-urgency"), line: v("#f-line"),
      green_channel: $("#f-green").checked, confidential: $("#f-confidential").checked,
      caller_phone: v("#f-phone") || null, caller_name: v("#f-name") || null, area: v("#f-area") || null,
      address: v("#f-address") || null, title: v("#f-title") || null,
    };
    if (v("#f-call-id")) d.call_id = Number(v("#f-call-id"));
    return d;
  }
  function resetForm() {
    $("#ticket-form").reset();
    $("#f-call-id").value = "";
    current = null; masterId = null;
    $("#m-master").textContent = "未选择";
    $("#do-merge").disabled = true;
    $("#accepted-banner").hidden = true;
    $$("#ticket-form input, #ticket-form select, #ticket-form textarea").forEach((el) => { el.disabled = false; });
    $$("#co-units input").forEach((c) => { c.checked = false; });
    ["#d-note", "#a-answer", "#r-note", "#m-note", "#e-note"].forEach((id) => { $(id).value = ""; });
    $("#d-unit").value = "";
    renderSuggest(null); $("#suggest-body").innerHTML = "输入诉求内容后显示建议";
    $("#similar-body").className = "empty"; $("#similar-body").innerHTML = "输入诉求内容后显示相似工单";
    $("#pop-card").classList.remove("pop");
  }
  $("#new-ticket").addEventListener("click", () => { resetForm(); $("#pop-body").className = "empty"; $("#pop-body").textContent = "等待来电……"; });

  /* Accept the form once (a step that fails leaves the ticket accepted, and the next try reuses it). */
  async function ensureAccepted() {
    if (current) return current;
    const d = formData();
    if (!d.content) throw new Error("请填写诉求内容");
    current = await HL.post("/api/v1/tickets", d);
    $$("#ticket-form input, #ticket-form select, #ticket-form textarea").forEach((el) => { el.disabled = true; });
    const b = $("#accepted-banner");
    b.hidden = false;
    b.innerHTML = "已受理：<b id='accepted-number'>" + esc(current.number) + "</b>，请选择处理方式";
    upsertMine(current, true);
    return current;
  }
  async function decide(step, body, okMsg) {
    const t = await HL.act(async () => {
      const acc = await ensureAccepted();
      if (!step) return acc;
      return HL.step(acc.id, step, Object.assign({ version: acc.version }, body));
    });
    if (!t) { if (current) refreshCurrent(); return; }
    upsertMine(t, true);
    HL.toast(okMsg + "：" + t.number, "ok");
    resetForm();
  }
  async function refreshCurrent() {
    try { current = await HL.get("/api/v1/tickets/" + current.id); } catch (e) { /* keep */ }
  }
  $("#co-filter").addEventListener("input", () => {
    const q = $("#co-filter").value.trim();
    $$("#co-units label").forEach((l) => { l.hidden = q && !l.dataset.name.includes(q); });
  });
  $("#do-dispatch").addEventListener("click", () => {
    const unitId = Number($("#d-unit").value);
    if (!unitId) { HL.toast("请选择主办单位", "err"); return; }
    const co = $$("#co-units input:checked").map((c) => Number(c.value)).filter((x) => x !== unitId);
    decide("dispatch", { unit_id: unitId, co_unit_ids: co, note: $("#d-note").value.trim() || null }, "已派单");
  });
  $("#do-answer").addEventListener("click", () => {
    const answer = $("#a-answer").value.trim();
    if (!answer) { HL.toast("请填写答复内容", "err"); return; }
    decide("close-first-contact", { answer }, "已直接办结");
  });
  $("#do-reject").addEventListener("click", () =>
    decide("reject", { reason: $("#r-reason").value, note: $("#r-note").value.trim() || null }, "已不予受理"));
  $("#do-merge").addEventListener("click", () => {
    if (!masterId) { HL.toast("请先在相似工单中选择主案", "err"); return; }
    decide("merge", { master_id: masterId, note: $("#m-note").value.trim() || null }, "已并单");
  });
  $("#do-expert").addEventListener("click", () =>
    decide("transfer-to-expert", { desk_unit_id: Number($("#e-desk").value), note: $("#e-note").value.trim() || null }, "已转专家坐席"));
  $("#do-save").addEventListener("click", () => decide(null, null, "已受理"));

  /* ------------------------------------------------------------ my tickets, updated live */
  function upsertMine(t, flash) {
    mine.set(t.id, t);
    const tbody = $("#mine tbody");
    let tr = tbody.querySelector('tr[data-id="' + t.id + '"]');
    const html = "<td>" + esc(t.number) + "</td><td>" + esc(t.title) + (t.unit ? "<br><span class='muted'>" + esc(t.unit.name) + "</span>" : "") +
      "</td><td class='st'>" + HL.status(t) + "</td>";
    if (!tr) {
      tr = document.createElement("tr");
      tr.dataset.id = t.id;
      tbody.insertBefore(tr, tbody.firstChild);
    }
    tr.innerHTML = html;
    tr.dataset.status = t.status;
    if (flash) { tr.classList.remove("flash-row"); void tr.offsetWidth; tr.classList.add("flash-row"); }
    $("#mine-count").textContent = mine.size;
  }
  const loadMine = HL.latest(async (current) => {
    try {
      const r = await HL.get("/workbench/my-tickets?limit=30");
      if (!current()) return;
      $("#mine tbody").innerHTML = "";
      mine.clear();
      r.items.slice().reverse().forEach((t) => upsertMine(t, false));
    } catch (e) { HL.toast(e.message, "err"); }
  });

  /* ------------------------------------------------------------ callbacks (回访) and missed calls */
  const loadFollowups = HL.latest(async (current) => {
    let cbs, missed;
    try {
      [cbs, missed] = await Promise.all([HL.get("/api/v1/callbacks?status=manual,pending"), HL.get("/api/v1/calls/missed?limit=30")]);
    } catch (e) { return; }
    if (!current()) return;
    $("#cb-count").textContent = cbs.total;
    $("#callbacks tbody").innerHTML = cbs.items.map((c) => '<tr data-cb="' + c.id + '"><td>' + esc(c.ticket_number) + "<br><span class='muted'>" +
      esc(c.phone || "") + (c.confidential ? " · 保密" : "") + " · " + HL.fmt(c.due_at) + "</span></td><td>" +
      '<label><input type="checkbox" class="cb-solved" checked> 已解决</label><br>' +
      '<button type="button" class="btn btn-sm btn-ok" data-sat="satisfied">满意</button> ' +
      '<button type="button" class="btn btn-sm" data-sat="basic">基本满意</button> ' +
      '<button type="button" class="btn btn-sm btn-danger" data-sat="unsatisfied">不满意</button></td></tr>').join("") ||
      '<tr><td class="empty">暂无待回访</td></tr>';
    $("#missed-count").textContent = missed.items.length;
    $("#missed tbody").innerHTML = missed.items.map((c) => '<tr data-number="' + esc(c.number) + '"><td>' + esc(c.number) +
      "<br><span class='muted'>" + HL.fmt(c.offered_at) + " · 等待" + Math.round(c.wait_seconds || 0) + "秒 · " + esc(c.line) + "</span></td>" +
      '<td><button type="button" class="btn btn-sm use-missed">回拨登记</button></td></tr>').join("") ||
      '<tr><td class="empty">暂无漏接来电</td></tr>';
  });
  $("#callbacks").addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-sat]");
    if (!b) return;
    const tr = b.closest("tr");
    const r = await HL.act(() => HL.post("/api/v1/callbacks/" + tr.dataset.cb + "/result",
      { satisfaction: b.dataset.sat, solved: tr.querySelector(".cb-solved").checked }), "回访结果已登记：" + b.textContent);
    if (r) loadFollowups();
  });
  $("#missed").addEventListener("click", async (ev) => {
    const b = ev.target.closest(".use-missed");
    if (!b) return;
    const number = b.closest("tr").dataset.number;
    resetForm();
    $("#f-phone").value = number;
    $("#lookup-phone").value = number;
    const h = await HL.act(() => HL.get("/api/v1/callers/" + encodeURIComponent(number) + "/history"));
    if (h) renderHistory(h, null);
    $("#f-content").focus();
  });
  $("#followup-refresh").addEventListener("click", () => loadFollowups());
  HL.tabs($("#followup-card"));
  loadFollowups();
  setInterval(() => loadFollowups(), 60000);

  HL.tabs($("#form-card"));
  // Enter in a field never submits the form: every action is a button (no inline handler: CSP).
  $("#ticket-form").addEventListener("submit", (e) => e.preventDefault());
  HL.live({
    ready: () => { loadMine(); seat.load(); },
    resync: () => { loadMine(); seat.load(); },
    ticket: async (ev) => {
      try {
        const t = await HL.get("/api/v1/tickets/" + ev.ticket_id);
        upsertMine(t, true);
        if (["sign", "reply", "return"].includes(ev.action)) HL.toast(t.number + "：" + (HL.ACTIONS[ev.action] || ev.action), "new");
      } catch (e) { /* no longer visible */ }
    },
    call_pop: (d) => popCall(d.call_id),
    call_ended: () => { $("#pop-card").classList.remove("pop"); },
    operator_state: (d) => { if (d.user_id === HL.user.id) seat.show(d.state, d.at); },
  });
  loadMine();
  seat.load();
  searchKb("");
})();
