/* Shared helpers of the workbenches: the JSON API, the live connection, small UI bits. */
(function () {
  "use strict";
  const body = document.body;
  const meta = document.querySelector('meta[name="csrf-token"]');
  const labelsEl = document.getElementById("hl-labels");

  const HL = {
    csrf: meta ? meta.content : "",
    user: {
      id: Number(body.dataset.userId || 0),
      role: body.dataset.role || "",
      unitId: body.dataset.unitId ? Number(body.dataset.unitId) : null,
    },
    labels: labelsEl ? JSON.parse(labelsEl.textContent) : {},
  };

  // Deadlines are in the center's local time; count down against the server's clock, not the PC's.
  const skew = body.dataset.serverNow ? new Date(body.dataset.serverNow) - Date.now() : 0;
  HL.serverNow = () => Date.now() + skew;

  /* ------------------------------------------------------------ API */
  HL.api = async function (method, path, data) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      opts.headers["X-CSRFToken"] = HL.csrf;
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(data || {});
    }
    const res = await fetch(path, opts);
    let json = null;
    try { json = await res.json(); } catch (e) { json = null; }
    if (!res.ok) {
      const err = new Error((json && json.detail) || ("请求失败（" + res.status + "）"));
      err.status = res.status;
      err.body = json;
      if (res.status === 401) { setTimeout(() => { location.href = "/login?next=" + encodeURIComponent(location.pathname); }, 800); }
      throw err;
    }
    return json;
  };
  HL.get = (path) => HL.api("GET", path);
  HL.post = (path, data) => HL.api("POST", path, data);
  HL.step = (id, step, data) => HL.post("/api/v1/tickets/" + id + "/" + step, data);
  /* Run an action: toast its result or its error (the service's Chinese reason). */
  HL.act = async function (fn, okMsg) {
    try {
      const r = await fn();
      if (okMsg) HL.toast(okMsg, "ok");
      return r;
    } catch (e) {
      HL.toast(e.message, "err");
      return null;
    }
  };

  /* ------------------------------------------------------------ UI bits */
  HL.esc = function (s) {
    return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  };
  HL.$ = (sel, root) => (root || document).querySelector(sel);
  HL.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  HL.toast = function (msg, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const el = document.createElement("div");
    el.className = "toast " + (kind || "");
    el.textContent = msg;
    box.appendChild(el);
    setTimeout(() => el.remove(), kind === "err" ? 6000 : 3500);
  };
  HL.fmt = function (iso) {
    if (!iso) return "";
    return iso.replace("T", " ").slice(5, 16);
  };
  HL.left = function (iso) {
    if (!iso) return "";
    const ms = new Date(iso) - HL.serverNow();
    const abs = Math.abs(ms), h = Math.floor(abs / 3600e3), d = Math.floor(h / 24);
    const txt = d > 0 ? d + "天" + (h % 24) + "小时" : h > 0 ? h + "小时" + Math.floor((abs % 3600e3) / 60e3) + "分" : Math.floor(abs / 60e3) + "分钟";
    return ms < 0 ? "超期 " + txt : "剩 " + txt;
  };
  HL.light = function (l) {
    const t = { green: "正常", yellow: "临近时限", red: "已超期" }[l] || "无时限";
    return '<span class="light light-' + (l || "none") + '" title="' + t + '" data-light="' + (l || "") + '"></span>';
  };
  HL.status = (t) => '<span class="status status-' + t.status + '">' + HL.esc(t.status_label || HL.labels.status[t.status] || t.status) + "</span>";
  HL.tags = function (t) {
    let s = "";
    if (t.urgency && t.urgency !== "normal") s += '<span class="tag tag-red">' + HL.esc(t.urgency_label) + "</span>";
    if (t.green_channel) s += '<span class="tag tag-green">绿色通道</span>';
    if (t.confidential) s += '<span class="tag">保密</span>';
    if (t.press_count) s += '<span class="tag tag-yellow">督办' + t.press_count + "次</span>";
    if (t.pending_extension) s += '<span class="tag tag-yellow">延期待批</span>';
    return s;
  };
  HL.caller = function (c) {
    if (!c) return '<span class="muted">（不显示）</span>';
    return HL.esc([c.name, c.phone].filter(Boolean).join(" "));
  };
  HL.detailHtml = function (t) {
    const units = t.unit ? HL.esc(t.unit.name) + (t.co_units && t.co_units.length ? "（协办：" + t.co_units.map((c) => HL.esc(c.name)).join("、") + "）" : "") : "—";
    let h = '<dl>' +
      "<dt>工单编号</dt><dd>" + HL.esc(t.number) + " " + HL.status(t) + " " + HL.tags(t) + "</dd>" +
      "<dt>类型</dt><dd>" + HL.esc(t.type_label) + " · " + HL.esc(t.urgency_label) + " · " + HL.esc(t.channel_label) + " " + HL.esc(t.line || "") + "</dd>" +
      "<dt>来电人</dt><dd>" + HL.caller(t.caller) + "</dd>" +
      "<dt>区域/地址</dt><dd>" + HL.esc([t.area, t.address].filter(Boolean).join(" ") || "—") + "</dd>" +
      "<dt>承办单位</dt><dd>" + units + "</dd>" +
      (t.expert_unit ? "<dt>专家坐席</dt><dd>" + HL.esc(t.expert_unit.name) + "</dd>" : "") +
      "<dt>受理时间</dt><dd>" + HL.fmt(t.accepted_at) + "</dd>" +
      (t.due_at ? "<dt>办理时限</dt><dd>" + HL.light(t.light) + " " + HL.fmt(t.due_at) + " <span class='muted'>" + (t.light ? HL.left(t.due_at) : "") + "</span></dd>" : "") +
      (t.pending_extension ? "<dt>延期申请</dt><dd>" + t.pending_extension.days + " 个工作日：" + HL.esc(t.pending_extension.reason) + "</dd>" : "") +
      (t.outcome ? "<dt>办理结果</dt><dd>" + HL.esc(t.outcome) + "</dd>" : "") +
      (t.reject_reason_label ? "<dt>不予受理</dt><dd>" + HL.esc(t.reject_reason_label) + "</dd>" : "") +
      "</dl>" +
      '<div class="content"><b>' + HL.esc(t.title) + "</b>\n" + HL.esc(t.content) + "</div>";
    if (t.events) {
      h += '<ul class="timeline">' + t.events.slice().reverse().map((e) =>
        "<li>" + HL.fmt(e.at) + " <b>" + HL.esc(ACTIONS[e.action] || e.action) + "</b> → " + HL.esc(HL.labels.status[e.to_status] || e.to_status) +
        (e.note ? "<br><span class='muted'>" + HL.esc(e.note) + "</span>" : "") + "</li>").join("") + "</ul>";
    }
    return h;
  };
  const ACTIONS = {
    accept: "受理", amend: "修改", close_first_contact: "直接办结", reject: "不予受理", transfer_to_expert: "转专家",
    hand_back: "专家退回", dispatch: "派单", redispatch: "改派", sign: "签收", "return": "退单", return_ticket: "退单",
    request_extension: "申请延期", extension: "申请延期", approve_extension: "同意延期", refuse_extension: "不同意延期",
    press: "督办", reply: "回复", review: "审核", close: "办结", record_callback: "回访", callback: "回访",
    reopen: "重办", reopen_with_master: "随主案重办", escalate: "督办升级", merge: "并单", merge_in: "并入子单", split: "拆单", split_out: "拆出子单", callback_reopen: "回访不满意重办", co_opinion: "协办意见", co_sign: "协办签收",
  };
  HL.ACTIONS = ACTIONS;

  /* A short two-tone chime, made with WebAudio (no sound file to ship). */
  let audio = null;
  HL.beep = function () {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume();
      [880, 1175].forEach((f, i) => {
        const o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = f; o.type = "sine";
        g.gain.setValueAtTime(0.0001, audio.currentTime + i * 0.18);
        g.gain.exponentialRampToValueAtTime(0.25, audio.currentTime + i * 0.18 + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + i * 0.18 + 0.16);
        o.connect(g).connect(audio.destination);
        o.start(audio.currentTime + i * 0.18); o.stop(audio.currentTime + i * 0.18 + 0.18);
      });
      HL.beeps = (HL.beeps || 0) + 1;
    } catch (e) { /* no audio device: the counter and the toast still show */ }
  };
  // Browsers allow sound only after a gesture: the first click anywhere unlocks it.
  document.addEventListener("click", function unlock() {
    try { audio = audio || new (window.AudioContext || window.webkitAudioContext)(); audio.resume(); } catch (e) { /* ignore */ }
    document.removeEventListener("click", unlock);
  });

  HL.tabs = function (root) {
    HL.$$(".tabs button", root).forEach((b) => b.addEventListener("click", () => {
      HL.$$(".tabs button", root).forEach((x) => x.classList.toggle("active", x === b));
      HL.$$(".tabpane", root).forEach((p) => p.classList.toggle("active", p.id === b.dataset.tab));
      if (b.dataset.onshow && HL[b.dataset.onshow]) HL[b.dataset.onshow]();
    }));
  };
  /* Wrap a loader so that only the newest call renders: a slow, older answer never overwrites a
   * newer one. The loader gets a function telling whether it is still the newest. */
  HL.latest = function (loader) {
    let seq = 0;
    return function () {
      const mine = ++seq;
      const args = [() => mine === seq].concat(Array.from(arguments));
      return loader.apply(null, args);
    };
  };
  /* Coalesce a burst: the first call schedules fn after ms, the calls until then ride along
   * (a busy center sends many events a second; a queue page refreshes at most once per ms). */
  HL.coalesce = function (fn, ms) {
    let t = null;
    return function () { if (t) return; t = setTimeout(() => { t = null; fn(); }, ms); };
  };
  HL.debounce = function (fn, ms) {
    let t = null;
    return function () { const a = arguments; clearTimeout(t); t = setTimeout(() => fn.apply(null, a), ms); };
  };

  /* ------------------------------------------------------------ live connection
   * handlers: {ticket(ev, fromCatchup), ticket_removed(ev), resync(), <other socket events>(data)}
   * Events are de-duplicated by event_id; on reconnect the missed ones are asked for ("catchup")
   * and handlers.resync() re-loads the screen's lists, so nothing is missed. */
  HL.live = function (handlers) {
    const statusEl = document.getElementById("live-status");
    const state = { lastId: null, seen: new Set(), received: [], connects: 0, socket: null };
    const setStatus = (on, text) => {
      if (!statusEl) return;
      statusEl.className = "live-status " + (on ? "on" : "off");
      statusEl.textContent = "● " + text;
    };
    const deliver = (name, ev, fromCatchup) => {
      if (ev && ev.event_id != null) {
        const key = name + ":" + ev.event_id;
        if (state.seen.has(key)) return;
        state.seen.add(key);
        if (state.lastId === null || ev.event_id > state.lastId) state.lastId = ev.event_id;
      }
      state.received.push({ name, ev, t: Date.now(), catchup: !!fromCatchup });
      if (state.received.length > 500) state.received.shift();
      if (handlers[name]) {
        try { handlers[name](ev, !!fromCatchup); } catch (e) { console.error(e); }
      }
    };
    if (typeof io !== "function") { setStatus(false, "实时连接不可用"); return state; }
    const socket = io({ transports: ["websocket", "polling"], reconnectionDelay: 500, reconnectionDelayMax: 5000 });
    state.socket = socket;
    socket.on("connect", () => {
      state.connects += 1;
      setStatus(true, "实时");
      if (state.lastId === null) {
        socket.emit("hello", {}, (h) => {
          if (h && h.last_event_id != null && state.lastId === null) state.lastId = h.last_event_id;
          state.ready = true;
          if (handlers.ready) handlers.ready(h);
        });
      } else {
        socket.emit("catchup", { after: state.lastId }, (r) => {
          (r && r.items || []).forEach((e) => deliver("ticket", e, true));
          if (r && r.last_id > state.lastId) state.lastId = r.last_id;
          state.ready = true;
          if (handlers.resync) handlers.resync(r ? r.items : []);
        });
      }
    });
    socket.on("disconnect", () => setStatus(false, "已断开，重连中…"));
    socket.on("connect_error", () => setStatus(false, "连接失败，重试中…"));
    socket.on("ticket", (ev) => deliver("ticket", ev));
    socket.on("ticket_removed", (ev) => deliver("ticket_removed", ev));
    ["call_pop", "call_ended", "calls", "operator_state", "callback"].forEach((name) =>
      socket.on(name, (data) => deliver(name, data)));
    window.HL_LIVE = state;
    return state;
  };

  /* The seat-state switcher (_seat_state.html) of the operator console and the expert seat:
   * returns {show(state, since), load()} for the page's live handlers. */
  HL.seatState = function () {
    function show(state, since) {
      HL.$$("#state-switch button").forEach((b) => b.classList.toggle("active", b.dataset.state === state));
      HL.$("#state-since").textContent = since ? "自 " + HL.fmt(since) : "";
    }
    async function load() {
      try {
        const r = await HL.get("/api/v1/operators");
        const me = r.items.find((o) => o.user_id === HL.user.id);
        if (me) show(me.status, me.since);
      } catch (e) { /* an admin opening the console has no seat */ }
    }
    HL.$$("#state-switch button").forEach((b) => b.addEventListener("click", async () => {
      const r = await HL.act(() => HL.post("/api/v1/operators/me/state", { status: b.dataset.state }),
        "状态已切换为「" + b.textContent.trim() + "」");
      if (r) show(r.status, r.since);
    }));
    return { show, load };
  };

  window.HL = HL;
})();
