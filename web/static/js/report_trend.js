// The report page's 30-day trend chart (ECharts), from the page's JSON data block: a file of
// its own, since the Content-Security-Policy runs no inline script.
(function () {
  var data = JSON.parse(document.getElementById('trend-data').textContent);
  var el = document.getElementById('trend-chart');
  var shown = ['connection_rate', 'on_time_completion_rate', 'callback_rate', 'satisfaction_rate', 'response_rate', 'resolution_rate', 'first_contact_resolution_rate', 'answered_in_15s_rate', 'completion_rate'];
  var dates = data.days.map(function (d) { return d.date.slice(5); });
  var series = shown.map(function (k) {
    return { name: data.labels[k], type: 'line', connectNulls: false, symbolSize: 4,
             data: data.days.map(function (d) { var r = d.rates[k]; return r.value === null ? null : +(r.value * 100).toFixed(2); }) };
  });
  if (window.echarts) {
    var chart = echarts.init(el);
    chart.setOption({
      tooltip: { trigger: 'axis', valueFormatter: function (v) { return v === null || v === undefined ? '—' : v + '%'; } },
      legend: { type: 'scroll', top: 0, selected: { '完成率': true } },
      grid: { left: 40, right: 16, top: 40, bottom: 24 },
      xAxis: { type: 'category', data: dates },
      yAxis: { type: 'value', min: function (v) { return Math.max(0, Math.floor(v.min / 10) * 10); }, max: 100, axisLabel: { formatter: '{value}%' } },
      series: series
    });
    window.addEventListener('resize', function () { chart.resize(); });
  } else {
    el.textContent = '（趋势图需要 web/static/vendor/echarts.common.min.js）';
  }
})();
