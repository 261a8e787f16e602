// /admin/wsns: the whole deployment. Every instance broadcasts a report of its own stats
// into the admin-only namespace every few seconds (demo_app/admin.py); this page keeps the
// latest report and a short history per instance, sums the live ones, and marks an
// instance stale once it has been silent for `stale_after` seconds (it died or lost the
// broker). Times are this browser's, so instances' clocks do not matter.
import { connect } from "/wsns/client.js";

const POINTS = 60; // samples kept per sparkline: two minutes at one per 2 s
const GONE_AFTER = 10; // stale periods after which a silent instance is dropped from view
const RENDER_MS = 1000;

const $ = (id) => document.getElementById(id);
const instances = new Map(); // id -> {report, seen, connections: [], rates: []}
const totalsHistory = { connections: [], rates: [] };

function push(series, value) {
  series.push(value);
  if (series.length > POINTS) series.shift();
}

function cell(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** A small SVG line of `values`, scaled to its own maximum; `label` is read out instead. */
function sparkline(values, label, className = "") {
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("class", `sparkline ${className}`.trim());
  svg.setAttribute("viewBox", "0 0 120 28");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const top = Math.max(1, ...values);
  const step = 120 / Math.max(1, POINTS - 1);
  const start = 120 - step * (values.length - 1);
  const line = document.createElementNS(svgNS, "polyline");
  line.setAttribute("points", values.map((v, i) =>
    `${(start + i * step).toFixed(1)},${(26 - (v / top) * 24).toFixed(1)}`).join(" "));
  svg.append(line);
  return svg;
}

function rate(report) {
  return report.messages_in_per_s + report.messages_out_per_s;
}

function errors(report) {
  return Object.values(report.errors).reduce((sum, n) => sum + n, 0);
}

function brokerLabel(broker) {
  const name = broker.mode ? `${broker.backend} (${broker.mode})` : broker.backend;
  return `${name} · ${broker.connected ? "connected" : "disconnected"}`;
}

function isStale(entry, now) {
  return now - entry.seen > entry.report.stale_after * 1000;
}

function receive(report) {
  const entry = instances.get(report.instance) ?? { connections: [], rates: [] };
  entry.report = report;
  entry.seen = Date.now();
  push(entry.connections, report.connections);
  push(entry.rates, rate(report));
  instances.set(report.instance, entry);
}

function statCard(key, label, value, chart) {
  const box = cell("div", undefined, "stat card");
  box.dataset.stat = key;
  box.dataset.testid = `total-${key}`;
  box.append(cell("span", String(value), "stat-value"), cell("span", label, "muted"));
  if (chart) box.append(chart);
  return box;
}

function instanceRow(id, entry, stale, now) {
  const { report } = entry;
  const row = cell("tr", undefined, "instance-row");
  row.dataset.instance = id;
  row.dataset.stale = String(stale);
  row.dataset.testid = "instance-row";
  const broker = cell("td", brokerLabel(report.broker), report.broker.connected ? "" : "broker-down");
  if (report.broker.last_error) broker.title = report.broker.last_error;
  const connections = cell("td", undefined);
  connections.append(cell("div", undefined, "cell-chart"));
  connections.firstChild.append(cell("span", String(report.connections)),
    sparkline(entry.connections, `connections of ${id}, last ${POINTS} reports`));
  const messages = cell("td", undefined);
  messages.append(cell("div", undefined, "cell-chart"));
  messages.firstChild.append(
    cell("span", `${report.messages_in_per_s.toFixed(1)} · ${report.messages_out_per_s.toFixed(1)}`),
    sparkline(entry.rates, `messages per second of ${id}, last ${POINTS} reports`, "rate"));
  const errorCell = cell("td", String(errors(report)));
  errorCell.title = Object.entries(report.errors).map(([k, v]) => `${k}: ${v}`).join(", ");
  const ago = Math.round((now - entry.seen) / 1000);
  row.append(cell("td", id, "mono instance-id"), broker, connections, cell("td", String(report.namespaces)),
    messages, errorCell, cell("td", ago < 1 ? "just now" : `${ago} s ago`));
  return row;
}

/** Namespaces open anywhere: a namespace open on several instances (a map with pages on two
 * workers) counts once, by path. An instance with too many to list sends only its count:
 * then the card can only sum, and says so. */
function namespacesCard(live) {
  if (live.every((report) => Array.isArray(report.namespace_paths))) {
    const paths = new Set(live.flatMap((report) => report.namespace_paths));
    return statCard("namespaces", "Namespaces open", paths.size);
  }
  const summed = live.reduce((total, report) => total + report.namespaces, 0);
  return statCard("namespaces", "Namespaces (summed over instances: one open on two counts twice)", summed);
}

function render() {
  const now = Date.now();
  for (const [id, entry] of instances) {
    if (now - entry.seen > entry.report.stale_after * 1000 * GONE_AFTER) instances.delete(id);
  }
  const entries = [...instances.entries()].sort(([a], [b]) => a.localeCompare(b));
  const live = entries.filter(([, entry]) => !isStale(entry, now)).map(([, entry]) => entry.report);
  const sum = (f) => live.reduce((total, report) => total + f(report), 0);
  push(totalsHistory.connections, sum((r) => r.connections));
  push(totalsHistory.rates, sum(rate));
  const stale = entries.length - live.length;
  $("summary").textContent = `${live.length} live${stale ? `, ${stale} stale` : ""}.`;
  $("totals").replaceChildren(
    statCard("instances", "Instances live", live.length),
    statCard("connections", "Connections", sum((r) => r.connections),
      sparkline(totalsHistory.connections, "connections, whole deployment")),
    namespacesCard(live),
    statCard("messages", "Messages/s in + out", sum(rate).toFixed(1),
      sparkline(totalsHistory.rates, "messages per second, whole deployment", "rate")),
    statCard("errors", "Errors (publish failed, refused, dropped)", sum(errors)),
  );
  const rows = entries.map(([id, entry]) => instanceRow(id, entry, isStale(entry, now), now));
  if (!rows.length) {
    const row = cell("tr");
    const empty = cell("td", "No instance has reported yet.", "muted");
    empty.colSpan = 7;
    row.append(empty);
    rows.push(row);
  }
  $("instances").replaceChildren(...rows);
}

const STATE_TEXT = { open: "live", connecting: "connecting…", reconnecting: "reconnecting…",
  denied: "admins only", closed: "closed" };
const ns = connect("/api/1/ws/admin");
ns.on("instance-stats", receive);
ns.on("state", (state) => {
  $("refresh").dataset.state = state === "open" ? "live" : state;
  $("refresh").textContent = STATE_TEXT[state] ?? state;
});
render();
setInterval(render, RENDER_MS);
