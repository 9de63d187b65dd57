// Dashboard charts: small dependency-free SVG drawings of JSON the server embeds with json_script.
// <div class="chart" data-chart="line|bars|process" data-source="<script id>" ...>. Every mark links to its cases.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function svg(box, width, height) {
    box.replaceChildren();
    return el("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMidYMid meet" }, box);
  }

  function link(parent, href, title) {
    const a = el("a", href ? { href } : {}, parent);
    if (title) el("title", {}, a, title);
    return a;
  }

  function empty(box, message) {
    const s = svg(box, 400, 40);
    el("text", { x: 200, y: 24, "text-anchor": "middle", class: "empty" }, s, message);
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(value)));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= value);
  }

  function line(box, rows) {
    const d = box.dataset, unit = d.unit || "";
    const points = rows.filter((r) => r[d.y] !== null && r[d.y] !== undefined);
    if (!points.length) return empty(box, "No bookings in this period.");
    const W = 560, H = 200, L = 44, R = 12, T = 12, B = 28;
    const s = svg(box, W, H), top = niceMax(Math.max(...points.map((r) => r[d.y])));
    const x = (i) => L + (points.length === 1 ? (W - L - R) / 2 : (i * (W - L - R)) / (points.length - 1));
    const y = (v) => T + (H - T - B) * (1 - v / top);
    for (let k = 0; k <= 4; k++) {
      const v = (top * k) / 4;
      el("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid-line" }, s);
      el("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, s, `${+v.toFixed(1)}${unit}`);
    }
    el("path", { class: "line", d: points.map((r, i) => `${i ? "L" : "M"}${x(i)},${y(r[d.y])}`).join(" ") }, s);
    const every = Math.ceil(points.length / 8);
    points.forEach((r, i) => {
      const a = link(s, d.href, `${r[d.x]}: median ${r[d.y]}${unit} over ${r[d.n]} bookings`);
      el("circle", { cx: x(i), cy: y(r[d.y]), r: 4, class: "dot" }, a);
      if (i % every === 0) el("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, s, String(r[d.x]).slice(5));
    });
  }

  function bars(box, rows) {
    const d = box.dataset;
    if (!rows.length) return empty(box, "Nothing to show.");
    const W = 560, row = 22, L = 170, R = 40, H = rows.length * row + 6;
    const s = svg(box, W, H), top = Math.max(...rows.map((r) => r[d.value])) || 1;
    rows.forEach((r, i) => {
      const a = link(s, d.href ? d.href + encodeURIComponent(r[d.key]) : "", `${r[d.label]}: ${r[d.value]}`);
      const y = 3 + i * row, w = ((W - L - R) * r[d.value]) / top;
      el("text", { x: L - 8, y: y + 14, "text-anchor": "end" }, a, r[d.label]);
      el("rect", { x: L, y: y + 2, width: Math.max(w, 1), height: row - 7, rx: 2, class: "bar" }, a);
      el("text", { x: L + w + 5, y: y + 14, class: "value" }, a, r[d.value]);
    });
  }

  const STAGES = ["intake", "patient-match", "completeness", "eligibility", "authorization", "scheduling", "booked",
    "completed", "closed"];

  function processMap(box, edges) {
    if (!edges.length) return empty(box, "No stage changes in this period.");
    const used = STAGES.filter((st) => edges.some((e) => e.from === st || e.to === st));
    const W = 980, NW = 92, NH = 30, gap = (W - 20 - NW) / Math.max(used.length - 1, 1);
    const cx = (st) => 10 + NW / 2 + used.indexOf(st) * gap;
    const liftOf = (e) => 24 + Math.abs(cx(e.to) - cx(e.from)) * 0.2;
    const up = Math.max(0, ...edges.filter((e) => cx(e.to) > cx(e.from)).map(liftOf));
    const down = Math.max(0, ...edges.filter((e) => cx(e.to) < cx(e.from)).map(liftOf));
    const mid = 12 + up * 0.8 + NH / 2, H = mid + NH / 2 + down * 0.8 + 16;
    const s = svg(box, W, H), top = Math.max(...edges.map((e) => e.count));
    edges.forEach((e) => {
      const x1 = cx(e.from), x2 = cx(e.to), forward = x2 > x1;
      const lift = liftOf(e) * (forward ? -1 : 1), y0 = mid + (forward ? -NH / 2 : NH / 2);
      const a = link(s, `${box.dataset.href}&stage=${e.from}&next=${e.to}`,
        `${e.from} → ${e.to}: ${e.count} transitions, median wait ${e.median_hours} h`);
      el("path", { d: `M${x1},${y0} C${x1},${y0 + lift} ${x2},${y0 + lift} ${x2},${y0}`,
        class: forward ? "edge" : "edge back", "stroke-width": 1.5 + (7 * e.count) / top }, a);
      el("text", { x: (x1 + x2) / 2, y: y0 + lift * 0.75 + (forward ? -2 : 10), "text-anchor": "middle",
        class: "edge-label" }, a, `${e.count} · ${e.median_hours} h`);
    });
    used.forEach((st) => {
      const g = el("g", { class: "node" }, s);
      el("rect", { x: cx(st) - NW / 2, y: mid - NH / 2, width: NW, height: NH, rx: 6 }, g);
      el("text", { x: cx(st), y: mid + 4, "text-anchor": "middle" }, g, st);
    });
  }

  const DRAW = { line, bars, process: processMap };

  function drawAll(root) {
    (root || document).querySelectorAll(".chart[data-chart]").forEach((box) => {
      const source = document.getElementById(box.dataset.source);
      const draw = DRAW[box.dataset.chart];
      if (source && draw) draw(box, JSON.parse(source.textContent));
    });
  }

  document.addEventListener("DOMContentLoaded", () => drawAll());
  document.addEventListener("htmx:afterSettle", () => drawAll());
})();
