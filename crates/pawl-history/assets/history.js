// The history report: reads the page's data, builds the filters and one card per case, and draws each
// case's trend (pawlChart) when its card first scrolls into view.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("pawl-history").textContent);
  const runs = data.runs;
  const $ = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const pct = (x) => (x >= 0 ? "+" : "") + (x * 100).toFixed(1) + "%";

  // Summary.
  const withChanges = data.cases.filter((c) => c.changes.length).length;
  const regressions = data.cases.filter((c) => c.changes.some((ch) => ch.regression)).length;
  const verdicts = {};
  data.cases.forEach((c) => { if (c.verdict) verdicts[c.verdict] = (verdicts[c.verdict] || 0) + 1; });
  let summary = `${data.cases.length} cases · ${runs.length} runs · ${withChanges} with change points · ` +
    `${regressions} with a slowdown beyond ${(data.tolerance * 100).toFixed(1)}%`;
  if (data.latest_label) {
    summary += ` · latest (${data.latest_label}): ` +
      Object.keys(verdicts).sort().map((k) => `${verdicts[k]} ${k}`).join(", ");
  }
  document.getElementById("summary").textContent = summary;
  document.querySelector("header").appendChild($("p", {class: "method"}, `${data.method} · made ${data.generated_at}`));

  // Filters: text, bench, each parameter, testbed, only cases with changes.
  const filters = document.getElementById("filters");
  const choices = (values) => ["(all)"].concat([...new Set(values)].sort((a, b) => a.localeCompare(b, undefined, {numeric: true})));
  const select = (id, label, values) => {
    const wrap = $("label", {}, label + " ");
    const s = $("select", {id: id});
    choices(values).forEach((v) => s.appendChild($("option", {value: v}, v)));
    wrap.appendChild(s);
    filters.appendChild(wrap);
    return s;
  };
  const text = $("input", {id: "filter-text", type: "search", placeholder: "case id contains…"});
  filters.appendChild(text);
  const bench = select("filter-bench", "bench", data.cases.map((c) => c.bench));
  const paramKeys = [...new Set(data.cases.flatMap((c) => Object.keys(c.params)))].sort();
  const params = paramKeys.map((k) => [k, select("filter-param-" + k, k, data.cases.filter((c) => k in c.params).map((c) => c.params[k]))]);
  const testbed = select("filter-testbed", "testbed", data.cases.map((c) => c.testbed));
  const onlyWrap = $("label", {}, " only with change points");
  const only = $("input", {id: "filter-changes", type: "checkbox"});
  onlyWrap.prepend(only);
  filters.appendChild(onlyWrap);

  // One card per case.
  const list = document.getElementById("cases");
  const cards = data.cases.map((c, index) => {
    const card = $("article", {class: "case", "data-id": c.id, "data-index": index});
    const head = $("h2", {}, c.id);
    if (c.verdict) head.appendChild($("span", {class: "badge verdict-" + c.verdict, title: c.reason || ""}, c.verdict));
    if (c.last_status !== "ok") head.appendChild($("span", {class: "badge verdict-failed"}, "last run " + c.last_status));
    c.changes.forEach((ch) => head.appendChild($("span", {class: "badge " + (ch.regression ? "slower" : ch.rel > 0 ? "up" : "down")}, pct(ch.rel))));
    card.appendChild(head);
    card.appendChild($("p", {class: "meta"}, `${c.suite} · ${c.testbed} · ${c.m.length} measured runs`));
    if (c.changes.length) {
      const ul = $("ul", {class: "changes"});
      c.changes.forEach((ch) => {
        const run = runs[ch.at] || {};
        ul.appendChild($("li", {}, `${pct(ch.rel)} at run ${run.k || "?"} (commit ${run.c || "unknown"}, ${run.t || ""}): ` +
          `${ch.before.toPrecision(5)} → ${ch.after.toPrecision(5)} ${c.unit}, p = ${ch.p.toExponential(1)}`));
      });
      card.appendChild(ul);
    }
    card.appendChild($("div", {class: "chart"}));
    list.appendChild(card);
    return card;
  });

  const draw = (card) => {
    if (card.dataset.drawn) return;
    card.dataset.drawn = "true";
    const c = data.cases[+card.dataset.index];
    const x = [], y = [], low = [], high = [], tips = [];
    let at = 0;
    c.m.forEach((m, i) => {
      at += c.r[i];
      const run = runs[at] || {};
      x.push(i + 1);
      y.push(m * c.q);
      low.push((m - c.l[i]) * c.q);
      high.push((m + c.h[i]) * c.q);
      tips.push(`run ${i + 1} · ${run.c || "no commit"} · ${run.t || ""} · ${(m * c.q).toPrecision(5)} ${c.unit} ` +
        `(${((m - c.l[i]) * c.q).toPrecision(5)}–${((m + c.h[i]) * c.q).toPrecision(5)})`);
    });
    // Change points and levels, in measured-run positions.
    let seen = 0;
    const pos = {};
    c.r.forEach((d, i) => { seen += d; pos[seen] = i + 1; });
    const bounds = [1].concat(c.changes.map((ch) => pos[ch.at] || 1)).concat([x.length + 1]);
    const segments = [];
    for (let k = 0; k + 1 < bounds.length; k++) {
      const level = k > 0 ? c.changes[k - 1].after : (c.changes[0] ? c.changes[0].before : y.reduce((a, b) => a + b, 0) / Math.max(y.length, 1));
      segments.push({x0: bounds[k], x1: bounds[k + 1] - 1, y: level, color: "#e69f00"});
    }
    const vrules = c.changes.map((ch) => ({x: (pos[ch.at] || 1) - 0.5, color: ch.rel > 0 ? "#d55e00" : "#009e73",
      tip: `${pct(ch.rel)} (p = ${ch.p.toExponential(1)})`}));
    const hrules = c.baseline != null ? [{y: c.baseline, color: "#777", label: "baseline"}] : [];
    pawlChart(card.querySelector(".chart"), {xLabel: "run (oldest to newest)", yLabel: `median (${c.unit})`,
      points: {x, y, low, high, tips}, segments, vrules, hrules});
  };
  const observer = "IntersectionObserver" in window
    ? new IntersectionObserver((entries) => entries.forEach((e) => { if (e.isIntersecting) draw(e.target); }), {rootMargin: "300px"})
    : null;
  cards.forEach((card) => (observer ? observer.observe(card) : draw(card)));

  const apply = () => {
    const needle = text.value.trim().toLowerCase();
    let shown = 0;
    cards.forEach((card, i) => {
      const c = data.cases[i];
      const ok = (!needle || c.id.toLowerCase().includes(needle)) &&
        (bench.value === "(all)" || c.bench === bench.value) &&
        (testbed.value === "(all)" || c.testbed === testbed.value) &&
        params.every(([k, s]) => s.value === "(all)" || c.params[k] === s.value) &&
        (!only.checked || c.changes.length > 0);
      card.hidden = !ok;
      if (ok) shown++;
    });
    document.getElementById("shown").textContent = `showing ${shown} of ${cards.length} cases`;
  };
  [text, bench, testbed, only].concat(params.map((p) => p[1])).forEach((e) => {
    e.addEventListener("input", apply);
    e.addEventListener("change", apply);
  });
  apply();
  document.body.dataset.ready = "true";
})();
