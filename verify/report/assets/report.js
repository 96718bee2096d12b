/* xent-conformance report page: renders the matrix, filters, details and accuracy plots from
   the JSON embedded in <script id="report-data">.  Every string from the report is inserted with
   textContent / setAttribute on fixed attribute names (never innerHTML), and only http(s) URLs
   become links, so hostile names, messages and reproducers stay inert text. */
"use strict";
(function () {
  var SVG_NS = "http://www.w3.org/2000/svg";
  var STATUSES = ["pass", "deviation", "fail", "error", "skip"];
  var SEVERITY = { pass: 0, skip: 1, deviation: 2, fail: 3, error: 4 };
  var CHECKS = ["accuracy", "gradient", "identity", "invariance", "special_values",
                "extreme_range", "bad_input", "cross_framework"];
  var DTYPES = ["float16", "bfloat16", "float32", "float64"];
  var SHORT = { float16: "f16", bfloat16: "bf16", float32: "f32", float64: "f64" };

  var data = JSON.parse(document.getElementById("report-data").textContent);
  var results = data.results;
  var state = { text: "", framework: "", status: "", device: "", dtypes: {},
                sortKey: "implementation", sortDir: 1, selected: null };

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "text") { node.textContent = attrs[k]; }
        else if (k === "class") { node.className = attrs[k]; }
        else if (/^(data-[a-z-]+|id|title|type|value|aria-[a-z]+|role|for|placeholder)$/.test(k)) {
          node.setAttribute(k, String(attrs[k]));
        }
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined) { continue; }
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, String(attrs[k])); }
    });
    return node;
  }
  function safeUrl(url) {
    try {
      var parsed = new URL(String(url));
      return (parsed.protocol === "https:" || parsed.protocol === "http:") ? parsed.href : null;
    } catch (e) { return null; }
  }
  function linkOrText(url, label) {
    var href = safeUrl(url);
    if (!href) { return el("code", { text: String(url) }); }
    var a = el("a", { text: label || String(url) });
    a.href = href; a.rel = "noopener noreferrer"; a.target = "_blank";
    return a;
  }
  function num(v) {
    if (v === null || v === undefined) { return null; }
    if (typeof v === "number") { return v; }
    if (v === "inf") { return Infinity; } if (v === "-inf") { return -Infinity; }
    if (v === "nan") { return NaN; }
    var parsed = Number(v); return isNaN(parsed) ? NaN : parsed;
  }
  function fmt(v) {
    var x = num(v);
    if (x === null) { return "—"; }
    if (!isFinite(x)) { return String(x).replace("Infinity", "inf").replace("NaN", "nan"); }
    if (x === 0) { return "0"; }
    if (Math.abs(x) >= 1e5 || Math.abs(x) < 1e-3) { return x.toExponential(2); }
    return String(Number(x.toPrecision(3)));
  }
  function dtypeRank(d) { var i = DTYPES.indexOf(d); return i < 0 ? 99 : i; }
  function worst(list) {
    var w = null;
    list.forEach(function (r) { if (w === null || SEVERITY[r.status] > SEVERITY[w]) { w = r.status; } });
    return w;
  }
  function nonconforming(r) {
    return ((r.status === "fail" || r.status === "error") && !r.known_issue) || r.baseline === "regressed";
  }

  /* ---- filtering ---------------------------------------------------------------------- */
  function passes(r) {
    if (state.framework && r.framework !== state.framework) { return false; }
    if (state.device && r.device !== state.device) { return false; }
    if (state.dtypes[r.dtype] === false) { return false; }
    if (state.text) {
      var hay = (r.implementation + " " + r.op + " " + r.framework).toLowerCase();
      if (hay.indexOf(state.text) < 0) { return false; }
    }
    switch (state.status) {
      case "": return true;
      case "nonconforming": return nonconforming(r);
      case "problems": return r.status === "fail" || r.status === "error" || r.status === "deviation";
      case "regressed": return r.baseline === "regressed";
      default: return r.status === state.status;
    }
  }

  /* ---- matrix ------------------------------------------------------------------------- */
  var implementations = [];
  var byImpl = {};
  results.forEach(function (r) {
    if (!byImpl[r.implementation]) { byImpl[r.implementation] = []; implementations.push(r.implementation); }
    byImpl[r.implementation].push(r);
  });
  var checks = CHECKS.filter(function (c) { return results.some(function (r) { return r.check === c; }); });

  /* the largest ULP error over finite comparisons (non-finite mismatches are counted apart) */
  function finiteUlp(r) { return r.finite_max_ulp !== undefined && r.finite_max_ulp !== null ? r.finite_max_ulp : r.max_ulp; }
  function maxUlp(list) {
    var m = -1;
    list.forEach(function (r) { var x = num(finiteUlp(r)); if (x !== null) { m = Math.max(m, isNaN(x) ? Infinity : x); } });
    return m;
  }
  function nonFinite(list) {
    var n = 0;
    list.forEach(function (r) { n += r.nonfinite_mismatches || 0; });
    return n;
  }
  function ulpText(r) {
    var text = fmt(finiteUlp(r));
    if (r.nonfinite_mismatches) { text += " +" + r.nonfinite_mismatches + " non-finite"; }
    return text;
  }
  function sortValue(impl, key, visible) {
    if (key === "implementation") { return impl; }
    if (key === "framework") { return byImpl[impl][0].framework + " " + impl; }
    if (key === "max_ulp") { return maxUlp(visible); }
    var inCheck = visible.filter(function (r) { return r.check === key; });
    var w = worst(inCheck);
    return w === null ? -1 : SEVERITY[w] * 1e6 + Math.min(maxUlp(inCheck), 999999);
  }

  function renderMatrix() {
    var table = document.getElementById("matrix");
    var thead = table.tHead; var tbody = table.tBodies[0];
    thead.textContent = ""; tbody.textContent = "";
    var head = el("tr");
    var columns = [["implementation", "implementation"], ["framework", "framework"]]
      .concat(checks.map(function (c) { return [c, c.replace(/_/g, " ")]; }))
      .concat([["max_ulp", "max finite ULP"]]);
    columns.forEach(function (col) {
      var th = el("th", { "data-sort": col[0], text: col[1], title: "sort by " + col[1], role: "columnheader" });
      if (state.sortKey === col[0]) { th.setAttribute("aria-sort", state.sortDir > 0 ? "ascending" : "descending"); }
      th.addEventListener("click", function () {
        state.sortDir = state.sortKey === col[0] ? -state.sortDir : (col[0] === "implementation" || col[0] === "framework" ? 1 : -1);
        state.sortKey = col[0];
        renderMatrix();
      });
      head.appendChild(th);
    });
    thead.appendChild(head);

    var rows = [];
    implementations.forEach(function (impl) {
      var visible = byImpl[impl].filter(passes);
      if (visible.length) { rows.push({ impl: impl, visible: visible }); }
    });
    rows.sort(function (a, b) {
      var x = sortValue(a.impl, state.sortKey, a.visible), y = sortValue(b.impl, state.sortKey, b.visible);
      if (x < y) { return -state.sortDir; } if (x > y) { return state.sortDir; }
      return a.impl < b.impl ? -1 : (a.impl > b.impl ? 1 : 0);
    });
    rows.forEach(function (row) {
      var first = byImpl[row.impl][0];
      var tr = el("tr", { "data-impl": row.impl });
      var nameCell = el("td", { class: "impl", title: first.op });
      row.impl.split(/(?<=[.\[_])/).forEach(function (part, i) {  // line breaks after . [ _
        if (i) { nameCell.appendChild(document.createElement("wbr")); }
        nameCell.appendChild(document.createTextNode(part));
      });
      tr.appendChild(nameCell);
      tr.appendChild(el("td", { text: first.framework }));
      checks.forEach(function (check) {
        var inCell = row.visible.filter(function (r) { return r.check === check; });
        inCell.sort(function (a, b) { return dtypeRank(a.dtype) - dtypeRank(b.dtype) || (a.device < b.device ? -1 : 1); });
        var w = worst(inCell);
        var td = el("td", { class: "cell " + (w ? "worst-" + w : "empty"), "data-check": check });
        if (!inCell.length) { td.textContent = "·"; }
        inCell.forEach(function (r) {
          var label = (SHORT[r.dtype] || r.dtype) + (devices.length > 1 ? " " + r.device : "");
          var badge = el("span", { class: "badge " + r.status + (r.baseline === "regressed" ? " regressed" : ""),
                                   text: label, title: r.status + (r.severity ? ", " + r.severity.replace(/_/g, " ") : "") + (r.baseline ? " (" + r.baseline + ")" : "") + ", max finite ULP " + ulpText(r) });
          td.appendChild(badge);
        });
        if (state.selected && state.selected.impl === row.impl && state.selected.check === check) {
          td.className += " selected";
        }
        td.addEventListener("click", function () { showDetails(row.impl, check); });
        tr.appendChild(td);
      });
      var nf = nonFinite(row.visible);
      tr.appendChild(el("td", { class: "ulp", text: fmt(maxUlp(row.visible) < 0 ? null : maxUlp(row.visible)) + (nf ? " +" + nf + " non-finite" : "") }));
      tbody.appendChild(tr);
    });
    document.getElementById("shown").textContent =
      rows.length + " of " + implementations.length + " implementations shown";
    if (!rows.length) {
      tbody.appendChild(el("tr", null, el("td", { class: "muted", text: "No result matches the filters." })));
    }
  }

  /* ---- details ------------------------------------------------------------------------ */
  function copyText(text, button) {
    function done(ok) { button.textContent = ok ? "copied" : "copy failed"; setTimeout(function () { button.textContent = "copy"; }, 1500); }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallback()); });
    } else { done(fallback()); }
    function fallback() {
      var area = el("textarea"); area.value = text; document.body.appendChild(area); area.select();
      var ok = false; try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area); return ok;
    }
  }
  function block(title, text, withCopy) {
    var wrap = el("div", { class: "block" });
    var headline = el("div", { class: "muted" }, title + " ");
    var pre = el("pre", { text: text });
    if (withCopy) {
      var button = el("button", { class: "copy", type: "button", text: "copy" });
      button.addEventListener("click", function () { copyText(text, button); });
      headline.appendChild(button);
    }
    wrap.appendChild(headline); wrap.appendChild(pre);
    return wrap;
  }
  function showDetails(impl, check) {
    state.selected = { impl: impl, check: check };
    var box = document.getElementById("details");
    box.hidden = false; box.textContent = "";
    box.appendChild(el("h2", { text: impl + " — " + check.replace(/_/g, " ") }));
    var list = byImpl[impl].filter(function (r) { return r.check === check && passes(r); });
    list.sort(function (a, b) { return dtypeRank(a.dtype) - dtypeRank(b.dtype) || (a.device < b.device ? -1 : 1); });
    if (!list.length) { box.appendChild(el("p", { class: "muted", text: "No result matches the filters." })); }
    list.forEach(function (r) {
      var card = el("div", { class: "result", "data-status": r.status });
      card.appendChild(el("h4", null, el("span", { class: "badge " + r.status, text: r.status }),
                          " " + r.dtype + " on " + r.device + (r.baseline ? " · baseline: " + r.baseline : "")));
      var facts = el("div", { class: "facts" });
      var facts_ = [["examples", String(r.examples)], ["max finite ULP error", ulpText(r)],
       ["max error / bound", fmt(r.max_bound_ratio)], ["op", r.op]];
      if (r.severity) { facts_.unshift(["severity", r.severity.replace(/_/g, " ")]); }
      if (r.extra && r.extra.input_pattern) { facts_.push(["inputs", String(r.extra.input_pattern)]); }
      facts_.forEach(function (f) {
        facts.appendChild(el("span", null, el("span", { class: "muted", text: f[0] + ": " }), f[1]));
      });
      if (r.extra && r.extra.baseline_status) {
        facts.appendChild(el("span", null, el("span", { class: "muted", text: "before: " }), String(r.extra.baseline_status)));
      }
      if (typeof r.duration_s === "number") {
        facts.appendChild(el("span", null, el("span", { class: "muted", text: "time: " }), r.duration_s.toFixed(2) + " s"));
      }
      card.appendChild(facts);
      if (r.extra && r.extra.severity_note) { card.appendChild(block("why", String(r.extra.severity_note), false)); }
      if (r.message) { card.appendChild(block("message", r.message, false)); }
      if (r.reference_value) { card.appendChild(block("correctly rounded reference value", r.reference_value, false)); }
      if (r.reproducer) { card.appendChild(block("reproducer", r.reproducer, true)); }
      var urls = (r.known_issue ? [r.known_issue] : []).concat(r.links || []);
      if (urls.length) {
        var links = el("div", { class: "links" }, el("span", { class: "muted", text: "links: " }));
        urls.forEach(function (u, i) {
          if (i) { links.appendChild(document.createTextNode(" · ")); }
          links.appendChild(linkOrText(u, (r.known_issue === u && i === 0 ? "known issue: " : "") + u));
        });
        card.appendChild(links);
      }
      if (r.extra && Array.isArray(r.extra.points)) {
        card.appendChild(plotPair(r.extra.points, r.status, r.dtype + " on " + r.device));
      }
      box.appendChild(card);
    });
    renderMatrix();
  }

  /* ---- plots -------------------------------------------------------------------------- */
  var W = 330, H = 210, L = 46, R = 10, T = 18, B = 32, ULP_FLOOR = 1e-3;
  function logScale(lo, hi, a, b) {
    var l0 = Math.log10(lo), l1 = Math.log10(hi);
    if (l1 - l0 < 1e-9) { l0 -= 0.5; l1 += 0.5; }
    return function (v) { return a + (Math.log10(v) - l0) / (l1 - l0) * (b - a); };
  }
  function decades(lo, hi) {
    var first = Math.floor(Math.log10(lo)), last = Math.ceil(Math.log10(hi));
    var step = Math.max(1, Math.ceil((last - first) / 6));  // at most about 7 labelled ticks
    var out = [];
    for (var e = first; e <= last; e += step) { out.push(Math.pow(10, e)); }
    return out;
  }
  function scatter(points, xKey, xLabel, status) {
    var usable = points.map(function (p) { return { x: num(p[xKey]), y: num(p.ulp) }; })
      .filter(function (p) { return p.x !== null && isFinite(p.x) && p.x > 0 && p.y !== null; });
    var box = el("div", { class: "plot", "data-x": xKey });
    box.appendChild(el("div", { class: "title", text: "ULP error vs " + xLabel }));
    if (!usable.length) { box.appendChild(el("div", { class: "muted nodata", text: "no data" })); return box; }
    var xs = usable.map(function (p) { return p.x; });
    var finiteY = usable.filter(function (p) { return isFinite(p.y); }).map(function (p) { return Math.max(p.y, ULP_FLOOR); });
    var xlo = Math.min.apply(null, xs), xhi = Math.max.apply(null, xs);
    var yhi = Math.max(2, finiteY.length ? Math.max.apply(null, finiteY) : 2);
    var sx = logScale(xlo, xhi, L, W - R), sy = logScale(ULP_FLOOR, yhi, H - B, T);
    var s = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img",
                         "aria-label": "ULP error against " + xLabel });
    decades(ULP_FLOOR, yhi).forEach(function (v) {
      if (v < ULP_FLOOR || v > yhi * 1.0001) { return; }
      s.appendChild(svg("line", { class: "grid", x1: L, x2: W - R, y1: sy(v), y2: sy(v) }));
      s.appendChild(svg("text", { x: L - 4, y: sy(v) + 3, "text-anchor": "end", text: v === ULP_FLOOR ? "≤1e-3" : fmt(v) }));
    });
    decades(xlo, xhi).forEach(function (v) {
      if (v < xlo / 1.0001 || v > xhi * 1.0001) { return; }
      s.appendChild(svg("line", { class: "grid", x1: sx(v), x2: sx(v), y1: T, y2: H - B }));
      s.appendChild(svg("text", { x: sx(v), y: H - B + 12, "text-anchor": "middle", text: fmt(v) }));
    });
    [0.5, 1].forEach(function (v) { s.appendChild(svg("line", { class: "ref", x1: L, x2: W - R, y1: sy(v), y2: sy(v) })); });
    s.appendChild(svg("line", { class: "axis", x1: L, x2: L, y1: T, y2: H - B }));
    s.appendChild(svg("line", { class: "axis", x1: L, x2: W - R, y1: H - B, y2: H - B }));
    s.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", text: xLabel + " (log scale)" }));
    s.appendChild(svg("text", { x: 10, y: T - 6, text: "ULP (log)" }));
    var nonFinite = 0;
    usable.forEach(function (p) {
      var y = isFinite(p.y) ? sy(Math.max(p.y, ULP_FLOOR)) : T - 2;
      if (!isFinite(p.y)) { nonFinite++; }
      s.appendChild(svg("circle", { class: isFinite(p.y) ? status : "fail", cx: sx(p.x).toFixed(1), cy: y.toFixed(1), r: 2.6 }));
    });
    if (nonFinite) { s.appendChild(svg("text", { x: W - R, y: T - 6, "text-anchor": "end", text: nonFinite + " non-finite (top)" })); }
    box.appendChild(s);
    return box;
  }
  function plotPair(points, status, title) {
    var wrap = el("div", { class: "plot-pair" });
    if (title) { wrap.appendChild(el("h3", { text: title })); }
    var row = el("div", { class: "plots" });
    row.appendChild(scatter(points, "magnitude", "max |logit|", status));
    row.appendChild(scatter(points, "classes", "number of classes", status));
    wrap.appendChild(row);
    return wrap;
  }
  function renderPlots() {
    var container = document.getElementById("plots-body");
    container.textContent = "";
    var select = document.getElementById("plot-impl");
    var impl = select.value;
    var withPoints = (byImpl[impl] || []).filter(function (r) {
      return r.check === "accuracy" && r.extra && Array.isArray(r.extra.points) && passes(r);
    });
    if (!withPoints.length) {
      container.appendChild(el("p", { class: "muted nodata", text: "no data: no accuracy points recorded for this implementation (or none match the filters)" }));
      return;
    }
    withPoints.sort(function (a, b) { return dtypeRank(a.dtype) - dtypeRank(b.dtype) || (a.device < b.device ? -1 : 1); });
    withPoints.forEach(function (r) { container.appendChild(plotPair(r.extra.points, r.status, r.dtype + " on " + r.device + " (" + r.status + ")")); });
  }

  /* ---- header, controls --------------------------------------------------------------- */
  var devices = [];
  results.forEach(function (r) { if (devices.indexOf(r.device) < 0) { devices.push(r.device); } });
  devices.sort();

  function fillSelect(id, values, allLabel) {
    var select = document.getElementById(id);
    select.appendChild(el("option", { value: "", text: allLabel }));
    values.forEach(function (v) { select.appendChild(el("option", { value: v[0], text: v[1] })); });
    return select;
  }
  function setup() {
    var frameworks = [];
    results.forEach(function (r) { if (frameworks.indexOf(r.framework) < 0) { frameworks.push(r.framework); } });
    frameworks.sort();
    fillSelect("filter-framework", frameworks.map(function (f) { return [f, f]; }), "all frameworks")
      .addEventListener("change", function (e) { state.framework = e.target.value; update(); });
    fillSelect("filter-device", devices.map(function (d) { return [d, d]; }), "all devices")
      .addEventListener("change", function (e) { state.device = e.target.value; update(); });
    fillSelect("filter-status", [["nonconforming", "non-conforming only"], ["problems", "fail, error or deviation"],
      ["regressed", "baseline regressions"]].concat(STATUSES.map(function (s) { return [s, s + " only"]; })), "any status")
      .addEventListener("change", function (e) { state.status = e.target.value; update(); });
    document.getElementById("filter-text").addEventListener("input", function (e) {
      state.text = e.target.value.trim().toLowerCase(); update();
    });
    var dtypeBox = document.getElementById("filter-dtypes");
    var present = DTYPES.filter(function (d) { return results.some(function (r) { return r.dtype === d; }); });
    results.forEach(function (r) { if (present.indexOf(r.dtype) < 0) { present.push(r.dtype); } });
    present.forEach(function (d) {
      var box = el("input", { type: "checkbox", "data-dtype": d });
      box.checked = true;
      box.addEventListener("change", function () { state.dtypes[d] = box.checked; update(); });
      dtypeBox.appendChild(el("label", null, box, SHORT[d] || d));
    });
    var plotSelect = document.getElementById("plot-impl");
    var plotted = implementations.filter(function (i) {
      return byImpl[i].some(function (r) { return r.extra && Array.isArray(r.extra.points); });
    });
    (plotted.length ? plotted : implementations).forEach(function (i) { plotSelect.appendChild(el("option", { value: i, text: i })); });
    plotSelect.addEventListener("change", renderPlots);
  }
  /* the framework and name filters apply to the findings rows too */
  function filterFindings() {
    Array.prototype.forEach.call(document.querySelectorAll("#findings tr.finding"), function (row) {
      var names = (row.getAttribute("data-names") || "").toLowerCase();
      row.hidden = (state.framework && row.getAttribute("data-framework") !== state.framework) ||
                   (state.text && names.indexOf(state.text) < 0);
    });
  }
  function update() {
    filterFindings();
    renderMatrix();
    if (state.selected) { showDetails(state.selected.impl, state.selected.check); }
    renderPlots();
  }

  /* ---- findings (rendered by the server as escaped HTML): copy buttons, result links ---- */
  function setupFindings() {
    Array.prototype.forEach.call(document.querySelectorAll("button.copy[data-copy]"), function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var label = button.textContent;
      button.addEventListener("click", function () {
        copyText(source ? source.textContent : "", button);
        setTimeout(function () { button.textContent = label; }, 1600);
      });
    });
    Array.prototype.forEach.call(document.querySelectorAll("a[data-show-impl]"), function (a) {
      a.addEventListener("click", function () {
        showDetails(a.getAttribute("data-show-impl"), a.getAttribute("data-show-check"));
      });
    });
  }

  setup();
  setupFindings();
  update();
  window.xentReport = { state: state, update: update, showDetails: showDetails, results: results };
  document.documentElement.setAttribute("data-ready", "true");
})();
