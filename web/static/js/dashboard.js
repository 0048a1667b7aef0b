/* Manager dashboard: today's live figures and charts (ECharts, served locally). */
(function () {
  "use strict";
  const { $, esc } = HL;
  const charts = {};
  const COLORS = { available: "#1f9d55", on_call: "#d93025", wrap_up: "#e0a800", away: "#888", offline: "#ccc" };
  function chart(id) {
    if (typeof echarts === "undefined") return null;
    charts[id] = charts[id] || echarts.init(document.getElementById(id), null, { renderer: "canvas" });
    return charts[id];
  }
  function kpi(id, value, detail, alert) {
    const el = $(id);
    el.querySelector(".v").textContent = value;
    el.querySelector(".d").textContent = detail || "";
    el.classList.toggle("alert", !!alert);
  }
  const pct = (r) => (r.value == null ? "—" : r.value.toFixed(2) + "%");
  const frac = (r) => r.num + " / " + r.den;

  function render(d) {
    kpi("#k-waiting", d.calls_waiting, "实时", d.calls_waiting > 0);
    kpi("#k-accepted", d.today.accepted, "派单 " + d.today.dispatched);
    kpi("#k-closed", d.today.closed, "待批延期 " + d.today.pending_extensions);
    kpi("#k-connection", pct(d.rates.connection), frac(d.rates.connection));
    kpi("#k-15s", pct(d.rates.answered_15s), frac(d.rates.answered_15s));
    kpi("#k-first", pct(d.rates.first_contact), frac(d.rates.first_contact));
    kpi("#k-ontime", pct(d.rates.on_time), frac(d.rates.on_time));
    kpi("#k-overdue", d.today.overdue_now, "督办班长处理", d.today.overdue_now > 0);
    const ops = d.operators;
    const c1 = chart("c-operators");
    if (c1) c1.setOption({
      tooltip: { trigger: "item" }, legend: { bottom: 0 }, animation: false,
      series: [{ type: "pie", radius: ["35%", "65%"], label: { formatter: "{b}: {c}" },
        data: ops.map((o) => ({ name: o.label, value: o.count, itemStyle: { color: COLORS[o.state] } })) }],
    });
    const st = d.tickets_by_status;
    const c2 = chart("c-status");
    if (c2) c2.setOption({
      tooltip: { trigger: "axis" }, legend: { data: ["全部", "今日受理"], top: 0 }, animation: false,
      grid: { left: 40, right: 10, bottom: 30, top: 30 },
      xAxis: { type: "category", data: st.map((s) => s.label), axisLabel: { interval: 0, fontSize: 11 } }, yAxis: { type: "value" },
      series: [{ name: "全部", type: "bar", data: st.map((s) => s.count), itemStyle: { color: "#2366b5" } },
        { name: "今日受理", type: "bar", data: st.map((s) => s.today), itemStyle: { color: "#e0a800" } }],
    });
    const c3 = chart("c-hourly");
    if (c3) c3.setOption({
      tooltip: { trigger: "axis" }, animation: false, grid: { left: 40, right: 10, bottom: 30, top: 20 },
      xAxis: { type: "category", data: d.hourly.map((_, h) => h + "时") }, yAxis: { type: "value", minInterval: 1 },
      series: [{ type: "line", smooth: true, areaStyle: {}, data: d.hourly, itemStyle: { color: "#2366b5" } }],
    });
    $("#calls-table tbody").innerHTML = [
      ["今日来电", d.today.calls_offered], ["人工接通", d.today.calls_answered], ["放弃（漏接）", d.today.calls_abandoned],
      ["排队等待", d.calls_waiting], ["在线坐席", ops.filter((o) => o.state !== "offline").reduce((a, o) => a + o.count, 0)],
    ].map(([k, v]) => "<tr><th>" + esc(k) + "</th><td id='calls-" + esc(k) + "'>" + v + "</td></tr>").join("");
    $("#updated-at").textContent = HL.fmt(d.now) + "（服务器时间）";
    window.HL_DASH = d;
  }
  let busy = false, again = false;
  async function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    try { render(await HL.get("/workbench/dashboard.json")); } catch (e) { HL.toast(e.message, "err"); }
    busy = false;
    if (again) { again = false; setTimeout(refresh, 300); }
  }
  const soon = HL.coalesce(refresh, 1000);
  HL.live({ ready: refresh, resync: refresh, ticket: soon, calls: soon, call_ended: soon, operator_state: soon, callback: soon });
  refresh();
  setInterval(refresh, 30000);
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
})();
