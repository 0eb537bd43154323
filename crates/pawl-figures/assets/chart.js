// pawl's interactive chart: points with vertical intervals, horizontal segments, vertical and horizontal
// rules, drawn as SVG into an element, with the label of the nearest point shown on hover.
//
// pawlChart(element, spec), spec = {
//   width, height, xLabel, yLabel,
//   points: {x: [..], y: [..], low: [..], high: [..], tips: [..]},    // low/high/tips optional
//   segments: [{x0, x1, y, color}], vrules: [{x, color, tip}], hrules: [{y, color, label}],
//   color }
"use strict";
function pawlChart(element, spec) {
  const NS = "http://www.w3.org/2000/svg";
  const W = spec.width || 760, H = spec.height || 260, L = 64, R = 12, T = 10, B = 36;
  const pts = spec.points || {x: [], y: []};
  const finite = (v) => typeof v === "number" && isFinite(v);
  const xs = pts.x.slice(), ys = [];
  pts.y.forEach((v, i) => { ys.push(v); if (pts.low) ys.push(pts.low[i]); if (pts.high) ys.push(pts.high[i]); });
  (spec.segments || []).forEach((s) => { xs.push(s.x0, s.x1); ys.push(s.y); });
  (spec.hrules || []).forEach((r) => ys.push(r.y));
  const range = (vals) => {
    const f = vals.filter(finite);
    if (!f.length) return [0, 1];
    let lo = Math.min(...f), hi = Math.max(...f);
    const pad = hi > lo ? (hi - lo) * 0.05 : Math.max(Math.abs(lo), 1) * 0.05;
    return [lo - pad, hi + pad];
  };
  const [x0, x1] = range(xs), [y0, y1] = range(ys);
  const px = (x) => L + (x - x0) / (x1 - x0) * (W - L - R);
  const py = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const el = (name, attrs, parent) => {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    (parent || svg).appendChild(e);
    return e;
  };
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "pawl-chart");
  const ticks = (lo, hi, n) => {
    const step0 = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(step0)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) || step0;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(+v.toPrecision(12));
    return out;
  };
  for (const v of ticks(y0, y1, 5)) {
    el("line", {x1: L, x2: W - R, y1: py(v), y2: py(v), class: "grid"});
    el("text", {x: L - 6, y: py(v) + 4, "text-anchor": "end", class: "tick"}).textContent = v;
  }
  for (const v of ticks(x0, x1, 8)) {
    el("text", {x: px(v), y: H - B + 16, "text-anchor": "middle", class: "tick"}).textContent = v;
  }
  el("text", {x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "label"}).textContent = spec.xLabel || "";
  el("text", {x: 12, y: (T + H - B) / 2, "text-anchor": "middle", class: "label",
              transform: `rotate(-90 12 ${(T + H - B) / 2})`}).textContent = spec.yLabel || "";
  const color = spec.color || "#0072b2";
  for (const r of spec.hrules || []) {
    el("line", {x1: L, x2: W - R, y1: py(r.y), y2: py(r.y), stroke: r.color, "stroke-dasharray": "6 4", class: "rule"});
    if (r.label) el("text", {x: W - R - 4, y: py(r.y) - 4, "text-anchor": "end", class: "tick"}).textContent = r.label;
  }
  for (const r of spec.vrules || []) {
    const line = el("line", {x1: px(r.x), x2: px(r.x), y1: T, y2: H - B, stroke: r.color, class: "rule"});
    if (r.tip) el("title", {}, line).textContent = r.tip;
  }
  let bars = "", dots = "";
  pts.x.forEach((x, i) => {
    const y = pts.y[i];
    if (!finite(y)) return;
    if (pts.low && finite(pts.low[i]) && finite(pts.high[i]))
      bars += `M${px(x).toFixed(1)} ${py(pts.low[i]).toFixed(1)}V${py(pts.high[i]).toFixed(1)}`;
    dots += `M${px(x).toFixed(1)} ${py(y).toFixed(1)}h0`;
  });
  el("path", {d: bars, stroke: color, "stroke-opacity": 0.45, fill: "none"});
  el("path", {d: dots, stroke: color, "stroke-width": 4, "stroke-linecap": "round", fill: "none"});
  for (const s of spec.segments || []) {
    el("line", {x1: px(s.x0), x2: px(s.x1), y1: py(s.y), y2: py(s.y), stroke: s.color, "stroke-width": 2});
  }
  const tip = el("text", {x: L + 6, y: T + 12, class: "hover"});
  const cursor = el("circle", {r: 5, fill: "none", stroke: "#000", visibility: "hidden"});
  svg.addEventListener("mousemove", (ev) => {
    const box = svg.getBoundingClientRect();
    const x = x0 + ((ev.clientX - box.left) * W / box.width - L) / (W - L - R) * (x1 - x0);
    let best = -1, dist = Infinity;
    pts.x.forEach((v, i) => { if (finite(pts.y[i]) && Math.abs(v - x) < dist) { dist = Math.abs(v - x); best = i; } });
    if (best < 0) return;
    cursor.setAttribute("cx", px(pts.x[best]));
    cursor.setAttribute("cy", py(pts.y[best]));
    cursor.setAttribute("visibility", "visible");
    tip.textContent = pts.tips ? pts.tips[best] : `${pts.x[best]}: ${pts.y[best]}`;
  });
  svg.addEventListener("mouseleave", () => { cursor.setAttribute("visibility", "hidden"); tip.textContent = ""; });
  element.appendChild(svg);
  return svg;
}
