// /admin/wsns: this instance's live sanic-wsns stats, refreshed every 2 seconds.
const $ = (id) => document.getElementById(id);
const TOTALS = [
  ["namespaces", "Namespaces"], ["clients", "Clients"], ["subscriptions", "Broker subscriptions"],
  ["connections_accepted", "Connections accepted"], ["messages_in", "Messages in"],
  ["messages_out", "Messages out"], ["namespaces_created", "Namespaces created"],
  ["namespaces_dropped", "Namespaces dropped"],
];

function cell(tag, text, className) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

function counts(object) {
  const entries = Object.entries(object || {});
  return entries.length ? entries.map(([k, v]) => `${k}: ${v}`).join(", ") : "—";
}

function render(stats) {
  $("instance").textContent = stats.instance;
  $("broker").textContent = `${stats.broker.scheme || ""} ${stats.broker.connected ? "connected" : "disconnected"}`;
  const totals = TOTALS.map(([key, label]) => {
    const box = cell("div", "", "stat card");
    box.dataset.stat = key;
    box.append(cell("span", String(stats.totals[key] ?? 0), "stat-value"), cell("span", label, "muted"));
    return box;
  });
  const refused = cell("div", "", "stat card wide");
  refused.append(cell("span", counts(stats.totals.connections_refused), "stat-small"),
    cell("span", "Connections refused", "muted"));
  const dropped = cell("div", "", "stat card wide");
  dropped.append(cell("span", counts(stats.totals.dropped), "stat-small"), cell("span", "Dropped", "muted"));
  $("totals").replaceChildren(...totals, refused, dropped);
  const rows = Object.entries(stats.namespaces).map(([path, ns]) => {
    const row = document.createElement("tr");
    row.dataset.path = path;
    row.append(cell("td", path, "mono"), cell("td", String(ns.clients)), cell("td", String(ns.messages_in)),
      cell("td", String(ns.messages_out)), cell("td", counts(ns.dropped)),
      cell("td", new Date(ns.created_at * 1000).toLocaleTimeString()));
    return row;
  });
  if (!rows.length) {
    const row = document.createElement("tr");
    const empty = cell("td", "No live namespace on this instance.", "muted");
    empty.colSpan = 6;
    row.append(empty);
    rows.push(row);
  }
  $("namespaces").replaceChildren(...rows);
}

async function refresh() {
  try {
    const response = await fetch("/admin/wsns/stats", { credentials: "same-origin" });
    if (!response.ok) throw new Error(`stats answered HTTP ${response.status}`);
    render(await response.json());
    $("error").textContent = "";
    $("refresh").dataset.state = "live";
    $("refresh").textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    $("error").textContent = error.message;
    $("refresh").dataset.state = "reconnecting";
    $("refresh").textContent = "retrying…";
  }
}

refresh();
setInterval(refresh, 2000);
