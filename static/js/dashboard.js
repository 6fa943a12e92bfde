// Dashboard charts (ECharts, served from static/vendor). Data comes from the page's
// <script id="dashboard-data" type="application/json">, the same numbers as the tables.
(function () {
  "use strict";
  // The programme picker submits on change (no inline handler: the CSP forbids them).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  var node = document.getElementById("dashboard-data");
  if (!node || typeof echarts === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var charts = [];
  var num = function (v) { return Number(v); };  // display only: the tables show exact yuan
  var yuan = function (v) { return "¥" + num(v).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 }); };

  // Chart labels come translated from the page (data-label-* on each chart's element, written
  // with {% translate %}), so the charts speak the page's language; Chinese if one is missing.
  function label(id, key, fallback) {
    var el = document.getElementById(id);
    return (el && el.dataset["label" + key.charAt(0).toUpperCase() + key.slice(1)]) || fallback;
  }

  function make(id, option) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    // "finished" fires when the animation is over: tests and screenshots wait for it.
    chart.on("finished", function () { el.setAttribute("data-finished", "1"); });
    chart.setOption(option);
    charts.push(chart);
    el.setAttribute("data-drawn", "1");
    return chart;
  }

  if (data.children && data.children.length) {
    var staying = label("chart-children", "staying", "留岗人数");
    var registered = label("chart-children", "registered", "登记人员");
    var entitled = label("chart-children", "entitled", "核定金额（元）");
    var chart = make("chart-children", {
      tooltip: { trigger: "axis" },
      legend: { data: [staying, registered, entitled] },
      grid: { left: 60, right: 70, bottom: 70, top: 40 },
      xAxis: { type: "category", data: data.children.map(function (c) { return c.name; }), axisLabel: { rotate: 40, interval: 0 } },
      yAxis: [{ type: "value", name: label("chart-children", "people", "人") }, { type: "value", name: label("chart-children", "yuan", "元") }],
      series: [
        { name: staying, type: "bar", data: data.children.map(function (c) { return c.staying; }) },
        { name: registered, type: "bar", data: data.children.map(function (c) { return c.registered; }) },
        { name: entitled, type: "line", yAxisIndex: 1, data: data.children.map(function (c) { return num(c.entitled); }) }
      ]
    });
    // Click a bar to drill down into that region.
    if (chart) {
      chart.on("click", function (params) {
        var child = data.children[params.dataIndex];
        if (!child) { return; }
        var url = new URL(window.location.href);
        url.searchParams.set("region", child.code);
        window.location.href = url.toString();
      });
    }
  }

  make("chart-rules", {
    tooltip: { trigger: "item", formatter: function (p) { return p.name + "<br>" + yuan(p.value) + "（" + p.percent + "%）"; } },
    // Rule names are long: a slice shows its share, the legend (scrolling) and the
    // tooltip the whole name, so nothing is cut to "…".
    legend: { type: "scroll", bottom: 0, left: "center", width: "92%" },
    series: [{
      type: "pie", radius: ["32%", "62%"], center: ["50%", "42%"], minShowLabelAngle: 12,
      data: data.rules.length ? data.rules.map(function (r) { return { name: r.name, value: num(r.amount) }; })
                              : [{ name: label("chart-rules", "none", "尚无核定"), value: 0 }],
      label: { show: data.rules.length > 0, position: "inside", formatter: "{d}%", color: "#fff", fontWeight: 600 },
      labelLine: { show: false }
    }],
    graphic: data.rules.length ? [] : [{ type: "text", left: "center", top: "middle", style: { text: label("chart-rules", "empty", "尚无核定数据"), fill: "#888", fontSize: 14 } }]
  });

  var trendNames = [
    label("chart-trend", "enterprises", "摸排企业"),
    label("chart-trend", "outside", "外地务工人员"),
    label("chart-trend", "staying", "留岗人数")
  ];
  make("chart-trend", {
    tooltip: { trigger: "axis" },
    // The legend sits above the plot and scrolls: the longer English names never run
    // into the axis labels below.
    legend: { type: "scroll", data: trendNames, top: 0, left: "center", width: "92%" },
    grid: { left: 12, right: 16, top: 40, bottom: 12, containLabel: true },
    xAxis: { type: "category", data: data.trend.map(function (p) { return p.as_of; }), axisLabel: { hideOverlap: true } },
    yAxis: { type: "value" },
    series: [
      { name: trendNames[0], type: "line", data: data.trend.map(function (p) { return p.enterprises_surveyed; }) },
      { name: trendNames[1], type: "line", data: data.trend.map(function (p) { return p.outside_workers; }) },
      { name: trendNames[2], type: "line", data: data.trend.map(function (p) { return p.staying; }) }
    ],
    graphic: data.trend.length ? [] : [{ type: "text", left: "center", top: "middle", style: { text: label("chart-trend", "empty", "尚无已审核的摸排报表"), fill: "#888", fontSize: 14 } }]
  });

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  document.body.setAttribute("data-charts-ready", String(charts.length));
})();
