// The run report's behaviour: sortable tables, the charts (uPlot) from the embedded data,
// and, on the live page (/report), a refresh of the whole page's content every few seconds.
// Everything the report says is in the HTML already; this script only draws and sorts.
(function () {
  "use strict";
  var REFRESH_MS = 5000;
  var plots = [];
  var chosen = null;

  function readData() {
    var el = document.getElementById("report-data");
    return el ? JSON.parse(el.textContent) : { services: [] };
  }

  // Tables: a click on a header sorts by that column (numbers by their raw value).
  function sortable() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      var heads = table.querySelectorAll("thead th");
      Array.prototype.forEach.call(heads, function (th, col) {
        th.addEventListener("click", function () {
          var asc = th.getAttribute("aria-sort") !== "ascending";
          Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", asc ? "ascending" : "descending");
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows).filter(function (r) {
            return !r.classList.contains("total");
          });
          var key = function (r) {
            var c = r.cells[col];
            if (!c) return "";
            var v = c.getAttribute("data-v");
            return v === null ? c.textContent : (v === "" ? NaN : parseFloat(v));
          };
          rows.sort(function (a, b) {
            var x = key(a), y = key(b);
            var r;
            if (typeof x === "number" && typeof y === "number") {
              if (isNaN(x)) r = isNaN(y) ? 0 : 1;
              else if (isNaN(y)) r = -1;
              else r = x - y;
            } else {
              r = String(x).localeCompare(String(y));
            }
            return asc ? r : -r;
          });
          var totals = Array.prototype.slice.call(body.rows).filter(function (r) {
            return r.classList.contains("total");
          });
          rows.concat(totals).forEach(function (r) { body.appendChild(r); });
        });
      });
    });
  }

  function fmt(v, digits) {
    if (v === null || v === undefined || isNaN(v)) return "–";
    return Number(v).toLocaleString("en-US", { maximumFractionDigits: digits });
  }

  function width(el) {
    return Math.max(320, Math.min(1200, (el.clientWidth || 900)));
  }

  function plot(el, opts, series) {
    var u = new uPlot(opts, series, el);
    plots.push(u);
    return u;
  }

  function clear() {
    plots.forEach(function (p) { p.destroy(); });
    plots = [];
  }

  function lastIndex(arr) {
    for (var i = arr.length - 1; i >= 0; i--) if (arr[i] !== null) return i;
    return -1;
  }

  function caption(id, text, attrs) {
    var el = document.getElementById(id);
    if (!el) return;
    el.textContent = text;
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute("data-" + k, attrs[k]); });
  }

  function timeOpts(el, title, series, yLabel) {
    return {
      title: title,
      width: width(el),
      height: 220,
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel, size: 60 }],
      series: [{}].concat(series),
      legend: { live: true },
    };
  }

  function drawCharts(data) {
    clear();
    var select = document.getElementById("chooser");
    var charts = document.getElementById("charts-body");
    if (!select || !charts) return;
    var options = [];
    data.services.forEach(function (s, si) {
      s.keys.forEach(function (k) {
        options.push({ value: si + "\u0000" + k, label: (data.services.length > 1 ? s.name + " · " : "") + k });
      });
    });
    select.innerHTML = "";
    options.forEach(function (o) {
      var opt = document.createElement("option");
      opt.value = o.value;
      opt.textContent = o.label;
      select.appendChild(opt);
    });
    if (!options.length) {
      charts.hidden = true;
      document.getElementById("charts-empty").hidden = false;
      return;
    }
    charts.hidden = false;
    document.getElementById("charts-empty").hidden = true;
    if (chosen && options.some(function (o) { return o.value === chosen; })) select.value = chosen;
    chosen = select.value;
    var parts = chosen.split("\u0000");
    var s = data.services[Number(parts[0])];
    var key = parts[1];
    var series = s.series[key] || {};
    var t = s.t;

    // Users (the service's).
    var usersEl = document.getElementById("chart-users");
    usersEl.innerHTML = "";
    if (s.users.some(function (v) { return v !== null; })) {
      plot(usersEl, timeOpts(usersEl, "Users", [{ label: "users", stroke: "#6b4fbb", width: 2 }], "users"), [t, s.users]);
      var ui = lastIndex(s.users);
      caption("cap-users", "Last interval: " + fmt(s.users[ui], 0) + " users", { last: s.users[ui] });
    } else {
      usersEl.innerHTML = '<p class="empty">The input says nothing of users.</p>';
      caption("cap-users", "", {});
    }

    // Requests/s and failures/s of the chosen row.
    var ratesEl = document.getElementById("chart-rates");
    ratesEl.innerHTML = "";
    plot(ratesEl, timeOpts(ratesEl, "Requests/s and failures/s · " + key, [
      { label: "requests/s", stroke: "#1f6feb", width: 2 },
      { label: "failures/s", stroke: "#c62828", width: 2 },
    ], "per second"), [t, series.rps || [], series.fps || []]);
    var ri = lastIndex(series.rps || []);
    caption("cap-rates", ri < 0 ? "No interval yet." :
      "Last interval: " + fmt(series.rps[ri], 2) + " requests/s, " + fmt(series.fps[ri], 2) + " failures/s (" + s.rate_source + ")",
      { rps: ri < 0 ? "" : series.rps[ri], fps: ri < 0 ? "" : series.fps[ri], requests: series.requests ? series.requests.reduce(function (a, b) { return a + (b || 0); }, 0) : "" });

    // Percentiles, and the baseline's beside them.
    var latEl = document.getElementById("chart-latency");
    latEl.innerHTML = "";
    var lat = [
      { label: "p50", stroke: "#2da44e", width: 2 },
      { label: "p95", stroke: "#bf8700", width: 2 },
      { label: "p99", stroke: "#cf222e", width: 2 },
    ];
    var latData = [t, series.p50 || [], series.p95 || [], series.p99 || []];
    var base = s.baseline && s.baseline[key];
    if (base) {
      [["baseline p50", "#2da44e", 0], ["baseline p95", "#bf8700", 1], ["baseline p99", "#cf222e", 2]].forEach(function (b) {
        if (base[b[2]] === null) return;
        lat.push({ label: b[0], stroke: b[1], width: 1, dash: [6, 4] });
        latData.push(t.map(function () { return base[b[2]]; }));
      });
    }
    plot(latEl, timeOpts(latEl, "Response time · " + key, lat, "ms"), latData);
    var li = lastIndex(series.p95 || []);
    caption("cap-latency", li < 0 ? "No timed request yet." :
      "Last interval: p50 " + fmt(series.p50[li], 1) + " ms, p95 " + fmt(series.p95[li], 1) + " ms, p99 " + fmt(series.p99[li], 1) + " ms (" + s.percentile_source + ")" +
      (base ? "; baseline p95 " + fmt(base[1], 1) + " ms" : ""),
      { p95: li < 0 ? "" : series.p95[li] });

    // The distribution of the whole run.
    var distEl = document.getElementById("chart-dist");
    distEl.innerHTML = "";
    var d = s.dist && s.dist[key];
    if (d && d.le) {
      plot(distEl, {
        title: "Response times of the run · " + key,
        width: width(distEl), height: 220,
        scales: { x: { time: false, distr: 3 } },
        axes: [{ label: "ms (bucket upper bound)" }, { label: "requests", size: 60 }],
        series: [{ label: "≤ ms" }, { label: "requests", stroke: "#1f6feb", fill: "rgba(31,111,235,0.25)", paths: uPlot.paths.stepped({ align: 1 }) }],
      }, [d.le, d.n]);
      var n = d.n.reduce(function (a, b) { return a + b; }, 0);
      caption("cap-dist", fmt(n, 0) + " timed requests in " + d.le.length + " buckets (" + d.source + ")", { count: n });
    } else if (d && d.q) {
      plot(distEl, {
        title: "Response time by percentile · " + key,
        width: width(distEl), height: 220,
        scales: { x: { time: false } },
        axes: [{ label: "percentile" }, { label: "ms", size: 60 }],
        series: [{ label: "%" }, { label: "ms", stroke: "#1f6feb", width: 2, points: { show: true } }],
      }, [d.q, d.ms]);
      caption("cap-dist", "Locust's own percentiles of the run (" + d.source + ")", { count: "" });
    } else {
      distEl.innerHTML = '<p class="empty">No distribution for this row.</p>';
      caption("cap-dist", "", {});
    }
  }

  // `?section=ID` shows that section alone (a CI summary's picture of one part).
  function onlySection() {
    var only = new URLSearchParams(window.location.search).get("section");
    if (!only) return;
    var parts = document.querySelectorAll("main > section, main > header");
    Array.prototype.forEach.call(parts, function (el) { el.hidden = el.id !== only; });
  }

  function init() {
    onlySection();
    sortable();
    var data = readData();
    var select = document.getElementById("chooser");
    if (select) {
      select.addEventListener("change", function () {
        chosen = select.value;
        drawCharts(readData());
      });
    }
    drawCharts(data);
  }

  // The live page: the server renders the page again from its newest data; its content
  // replaces this one's, the chosen row is kept.
  function refresh() {
    fetch(window.location.href, { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var main = doc.getElementById("report");
        var data = doc.getElementById("report-data");
        if (!main || !data) return;
        document.getElementById("report").innerHTML = main.innerHTML;
        document.getElementById("report-data").textContent = data.textContent;
        init();
        if (document.body.getAttribute("data-live") === "1" && doc.body.getAttribute("data-live") !== "1") {
          document.body.setAttribute("data-live", "0");
        }
      })
      .catch(function () {
        var note = document.getElementById("live-note");
        if (note) note.textContent = "Live: the exporter did not answer the last refresh.";
      })
      .then(schedule);
  }

  function schedule() {
    if (document.body.getAttribute("data-live") === "1") window.setTimeout(refresh, REFRESH_MS);
  }

  init();
  schedule();
})();
