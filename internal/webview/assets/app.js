// kelp's live view: reads /api/stream (server-sent events, read with
// fetch so that a bearer token can be sent) and renders the view. No
// library: every element is built with the DOM and filled with
// textContent, so nothing from the cluster is parsed as HTML.
"use strict";

const PHASES = ["launching", "csr-pending", "joining", "ready", "not-ready", "draining"];
const COLORS = ["#2f6fb0", "#2e9d5b", "#c77c02", "#9b59b6", "#d9534f", "#12343b", "#6fa8dc", "#b0b8c4"];
const $ = (sel) => document.querySelector(sel);

// colorOf is a pool's line colour: a hash of its name into COLORS, so a
// pool keeps its colour while others come and go.
function colorOf(name) {
  let h = 0;
  for (const c of name) h = (Math.imul(h, 31) + c.codePointAt(0)) >>> 0;
  return COLORS[h % COLORS.length];
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "style") e.style.cssText = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function age(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return s + "s";
  if (s < 7200) return Math.round(s / 60) + "m";
  if (s < 172800) return Math.round(s / 3600) + "h";
  return Math.round(s / 86400) + "d";
}

function clock(t) {
  const d = new Date(t);
  return isNaN(d) || d.getFullYear() < 2000 ? "" : d.toLocaleTimeString();
}

function renderPools(pools) {
  const box = $("#pools");
  box.replaceChildren();
  if (!pools.length) box.append(el("p", { class: "count" }, "No pool yet."));
  for (const p of pools) {
    const total = PHASES.reduce((n, ph) => n + (p.phases[ph] || 0), 0) || 1;
    const bar = el("div", { class: "bar" });
    const legend = el("div", { class: "phases" });
    for (const ph of PHASES) {
      const n = p.phases[ph] || 0;
      if (!n) continue;
      bar.append(el("span", { style: `width:${100 * n / total}%;background:var(--${ph})`, title: `${ph}: ${n}` }));
      legend.append(el("span", { "data-phase": ph }, el("span", { class: "dot", style: `background:var(--${ph})` }), `${ph} ${n}`));
    }
    const inst = el("div", { class: "instances" }, "instances:");
    for (const [state, n] of Object.entries(p.instances || {})) inst.append(el("span", {}, `${state} ${n}`));
    const card = el("div", { class: "pool", "data-pool": p.name },
      el("h3", {}, p.name, " ", el("span", { class: "group" }, p.group || "")),
      el("div", { class: "bounds" },
        el("span", {}, "min ", el("b", { "data-field": "min" }, p.min)),
        el("span", {}, "desired ", el("b", { "data-field": "desired" }, p.desired)),
        el("span", {}, "max ", el("b", { "data-field": "max" }, p.max))),
      bar, legend, inst);
    if (p.backoff) card.append(el("p", { class: "warn" }, "backed off: " + p.backoff));
    box.append(card);
  }
}

function renderRows(tbody, rows, cols, empty) {
  tbody.replaceChildren();
  if (!rows.length) {
    tbody.append(el("tr", {}, el("td", { class: "empty", colspan: String(cols) }, empty)));
    return;
  }
  for (const r of rows) tbody.append(el("tr", {}, ...r.map((c) => el("td", {}, c))));
}

function renderTimeline(items) {
  const list = $("#timeline");
  list.replaceChildren();
  if (!items.length) list.append(el("li", {}, el("span", { class: "count" }, "No decision yet.")));
  for (const d of items) {
    const count = d.count > 1 ? ` ×${d.count}` : "";
    list.append(el("li", { "data-kind": d.kind, class: d.warning ? "warning" : "" },
      el("span", { class: "count" }, clock(d.time)),
      el("span", { class: "kind " + d.kind }, d.kind),
      el("span", { class: "msg" }, `${d.reason}${count}: ${d.message} `, el("span", { class: "obj" }, d.object || ""))));
  }
}

// plot draws series ({name, color, points: [[t, v]...]}) into svg: over
// the last hour, or since the first point when that is later (at least
// two minutes), with a zero baseline and the maximum on the axis.
function plot(svg, series, now, unit) {
  const W = 400, H = 160, L = 34, B = 18, T = 8;
  svg.replaceChildren();
  let first = now;
  for (const s of series) for (const [t] of s.points) first = Math.min(first, t);
  const from = Math.max(now - 3600e3, Math.min(first, now - 120e3));
  let top = 1;
  for (const s of series) for (const [t, v] of s.points) if (t >= from) top = Math.max(top, v);
  const x = (t) => L + (W - L - 4) * (t - from) / (now - from);
  const y = (v) => H - B - (H - B - T) * v / top;
  svg.append(svgEl("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }));
  svg.append(svgEl("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
  const label = (tx, ty, s, anchor) => { const t = svgEl("text", { x: tx, y: ty, "text-anchor": anchor || "end" }); t.textContent = s; svg.append(t); };
  label(L - 3, T + 8, String(Math.round(top * 10) / 10) + (unit || ""));
  label(L - 3, H - B, "0");
  label(L, H - 4, "-" + Math.round((now - from) / 60e3) + "m", "start");
  label(W - 2, H - 4, "now");
  for (const s of series) {
    const pts = s.points.filter(([t]) => t >= from && t <= now).map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    if (pts.length === 1) pts.unshift(`${L},${pts[0].split(",")[1]}`);
    if (pts.length) svg.append(svgEl("polyline", { points: pts.join(" "), fill: "none", stroke: s.color, "stroke-width": 2 }));
  }
}

// renderPlots draws the samples and, as their last point, the view itself.
function renderPlots(samples, v) {
  const now = new Date(v.time).getTime();
  const points = samples.map((s) => ({ t: new Date(s.time).getTime(), nodes: s.nodes || {}, pending: s.pending, latency: s.latency }));
  const live = { t: now, nodes: {}, pending: v.pendingPods.length, latency: v.decisionLatencySeconds };
  for (const p of v.pools) live.nodes[p.name] = p.phases.ready || 0;
  if (!points.length || points[points.length - 1].t < now) points.push(live);
  const legend = $("#legend");
  legend.replaceChildren();
  const series = v.pools.map((p) => {
    const color = colorOf(p.name);
    legend.append(el("span", {}, el("span", { class: "dot", style: `background:${color}` }), p.name));
    return { name: p.name, color, points: points.map((s) => [s.t, s.nodes[p.name] || 0]) };
  });
  plot($("#plot-nodes"), series, now);
  plot($("#plot-pending"), [{ name: "pending", color: "#c77c02", points: points.map((s) => [s.t, s.pending]) }], now);
  plot($("#plot-latency"), [{ name: "latency", color: "#2f6fb0", points: points.map((s) => [s.t, s.latency]) }], now, "s");
}

function render(payload) {
  const v = payload.view;
  const role = $("#role");
  role.textContent = v.leading === undefined ? "" : v.leading ? "leader" : "standby replica";
  role.className = "badge" + (v.leading ? " leader" : "");
  const a = v.autoscaler;
  const last = (what, d) => d ? ` · last ${what} ${clock(d.time)}` : "";
  $("#summary").textContent = (a ? `expanders ${a.expanders}${a.dryRun ? " (dry run)" : ""} · last cycle: ${a.unschedulablePods} unschedulable pod(s)` +
    (a.health ? ` · waiting: ${a.health}` : "") : "no autoscaler status") + last("scale-up", v.lastScaleUp) + last("scale-down", v.lastScaleDown);
  $("#updated").textContent = "updated " + clock(v.time);
  const problems = $("#problems");
  problems.hidden = !(v.problems && v.problems.length);
  problems.textContent = (v.problems || []).join("; ");
  renderPools(v.pools);
  $("#pending-count").textContent = String(v.pendingPods.length);
  renderRows($("#pending tbody"), v.pendingPods.map((p) => [p.name, age(p.ageSeconds), p.waiting || "", p.decision || "—"]), 4, "No pending pod.");
  renderTimeline(v.timeline);
  // A node whose CSR waits is no Node yet: it counts apart.
  const joining = v.nodes.filter((n) => n.phase === "csr-pending").length;
  $("#node-count").textContent = String(v.nodes.length - joining) + (joining ? `, ${joining} joining (CSR pending)` : "");
  renderRows($("#nodes tbody"), v.nodes.map((n) => [n.name, n.pool || "", n.phase, age(n.ageSeconds), n.reason || ""]), 5, "No node.");
  renderPlots(payload.samples || [], v);
}

function headers() {
  const t = sessionStorage.getItem("kelp-token");
  return t ? { Authorization: "Bearer " + t } : {};
}

function askToken(msg) {
  $("#auth").hidden = false;
  $("#auth-msg").textContent = msg;
  $("#role").textContent = "no access";
}

// stream reads the server-sent events of /api/stream until they end,
// then reconnects.
async function stream() {
  let retry = 2000;
  try {
    const resp = await fetch("api/stream", { headers: headers(), cache: "no-store" });
    if (resp.status === 401 || resp.status === 403) {
      askToken(`${resp.status}: ${(await resp.text()).trim()} — paste a token allowed to get /kelp/view.`);
      return;
    }
    if (!resp.ok) throw new Error(`api/stream: ${resp.status}`);
    $("#auth").hidden = true;
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const chunk = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const data = chunk.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) render(JSON.parse(data));
      }
    }
  } catch (err) {
    $("#role").textContent = "reconnecting…";
    retry = 3000;
  }
  setTimeout(stream, retry);
}

$("#auth").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("kelp-token", $("#token").value.trim());
  $("#token").value = "";
  $("#auth").hidden = true;
  stream();
});
stream();
