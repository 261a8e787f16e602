// bubblemap's page: sign-in, map list, and one live map drawn in SVG.
//
// State flows one way: server frames and REST answers go through `applyBubble` /
// `applyView`, which keep the highest version of every bubble; the SVG is redrawn from
// that state. Local gestures (drag, edit) only send requests; what comes back is applied
// the same way, so a conflict simply shows the winner's version.
import { connect } from "/wsns/client.js";

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
const XHTML_NS = "http://www.w3.org/1999/xhtml";
const PALETTE = ["#fde68a", "#fecaca", "#bbf7d0", "#bfdbfe", "#ddd6fe", "#fbcfe8", "#fed7aa", "#e5e7eb"];
const STATE_LABELS = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  denied: "no access",
  deleted: "map deleted",
  offline: "offline",
};
const DENIALS = {
  unauthenticated: ["You are signed out", "Sign in again to open this map."],
  forbidden: ["No access", "This map is private. Ask its owner to invite you."],
  not_found: ["Map not found", "This map does not exist (any more)."],
};

const app = { me: null, board: null };

// -- HTTP ---------------------------------------------------------------------------------

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    // The server refuses an unsafe request that is not JSON (415, its CSRF rule), body or not.
    headers: method === "GET" ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new Error(data?.message || `HTTP ${response.status}`);
    error.status = response.status;
    error.code = data?.error;
    throw error;
  }
  return data;
}

// -- small DOM helpers --------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.includes("-") || key === "href" || key === "title") node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function toast(message, kind = "info") {
  const node = el("div", { class: `toast ${kind}`, "data-testid": `toast-${kind}` }, message);
  $("toasts").append(node);
  setTimeout(() => node.classList.add("leaving"), 4200);
  setTimeout(() => node.remove(), 4600);
}

function initials(name) {
  return name.split(/\s+/).map((part) => part[0]).join("").slice(0, 2).toUpperCase();
}

function textColor(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  return 0.299 * r + 0.587 * g + 0.114 * b > 0.6 ? "#1f2937" : "#ffffff";
}

function radius(text) {
  return Math.round(Math.min(96, 48 + Math.sqrt(text.length) * 3.6));
}

// -- routing ------------------------------------------------------------------------------

function navigate(path) {
  if (location.pathname !== path) history.pushState(null, "", path);
  route();
}

function showView(id) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== id;
}

async function route() {
  closeBoard();
  if (!app.me) {
    showView("view-signin");
    $("signin-name").focus();
    return;
  }
  const match = location.pathname.match(/^\/maps\/(\d+)$/);
  if (match) openBoard(Number(match[1]));
  else await showList();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", route);

// -- session ------------------------------------------------------------------------------

function setMe(me) {
  app.me = me.name ? me : null;
  $("account").hidden = !app.me;
  if (app.me) {
    $("user-name").textContent = app.me.name;
    $("avatar").textContent = initials(app.me.name);
    $("admin-link").hidden = !app.me.admin;
  }
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("signin-error").textContent = "";
  try {
    setMe(await api("POST", "/api/1/session", { name: $("signin-name").value.trim() }));
    route();
  } catch (error) {
    $("signin-error").textContent = error.code === "invalid_data"
      ? "Use up to 32 letters, digits, spaces, dots, dashes or underscores."
      : error.message;
  }
});

$("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/api/1/session");
  setMe({ name: null });
  navigate("/");
});

// -- map list -----------------------------------------------------------------------------

async function showList() {
  showView("view-list");
  document.title = "bubblemap";
  $("list-error").textContent = "";
  let maps = [];
  try {
    maps = await api("GET", "/api/1/maps");
  } catch (error) {
    if (error.status === 401) return signedOut();
    $("list-error").textContent = error.message;
  }
  const list = $("map-list");
  list.replaceChildren(...maps.map(mapCard));
  $("map-list-empty").hidden = maps.length > 0;
}

function mapCard(map) {
  const mine = map.owner === app.me.name;
  const card = el("a", { class: "map-card", href: `/maps/${map.id}`, "data-link": "" },
    el("span", { class: `map-card-art art-${map.id % 4}`, "aria-hidden": "true" }),
    el("span", { class: "map-card-title" }, map.title),
    el("span", { class: "map-card-meta" },
      el("span", { class: `tag ${map.private ? "" : "public"}` }, map.private ? "Private" : "Public"),
      el("span", { class: "muted" }, mine ? "by you" : `by ${map.owner}`)));
  return el("li", { "data-testid": "map-item", "data-map-id": String(map.id) }, card);
}

$("new-map-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const map = await api("POST", "/api/1/maps", {
      title: $("new-map-title").value.trim(),
      private: $("new-map-private").checked,
    });
    $("new-map-title").value = "";
    navigate(`/maps/${map.id}`);
  } catch (error) {
    if (error.status === 401) return signedOut();
    $("list-error").textContent = error.message;
  }
});

function signedOut() {
  setMe({ name: null });
  route();
}

// -- one map ------------------------------------------------------------------------------

/** The live map: its state, its connection, and what the user is doing to it. */
class Board {
  constructor(mapId) {
    this.mapId = mapId;
    this.map = null;
    this.bubbles = new Map();
    this.selected = null; // id of the bubble in the editor
    this.drag = null;
    this.conflictDraft = null;
    // The editor edits the bubble as it was when filled: saving it after someone else
    // changed it is a conflict, not a silent overwrite.
    this.editVersion = null;
    this.dirty = false;
    // Frames received while a snapshot or a re-fetch is in flight; replayed on top of it,
    // since the server may read the snapshot before a change it has already broadcast.
    this.recent = null;
    this.pan = { x: 0, y: 0 };
    this.ns = connect(`/api/1/ws/bubblemap/${mapId}`);
    this.ns.on("state", (state, detail) => this.onState(state, detail));
    this.ns.on("welcome", () => { this.recent = []; });
    this.ns.on("snapshot", (view) => this.applyView(view));
    this.ns.on("resync", () => this.refetch());
    this.ns.on("bubble-created", (bubble) => this.onEvent({ bubble }));
    this.ns.on("bubble-updated", (bubble) => this.onEvent({ bubble }));
    this.ns.on("bubble-deleted", ({ id }) => this.onEvent({ deleted: id }));
    this.setState("connecting");
  }

  close() {
    this.ns.close();
  }

  // state ----------------------------------------------------------------------------------

  onEvent(event) {
    if (this.recent) this.recent.push(event);
    this.applyEvent(event);
    this.render();
  }

  applyEvent({ bubble, deleted }) {
    if (deleted !== undefined) this.bubbles.delete(deleted);
    else this.applyBubble(bubble);
  }

  applyBubble(bubble) {
    const current = this.bubbles.get(bubble.id);
    if (current && current.version >= bubble.version) return;
    this.bubbles.set(bubble.id, bubble);
  }

  applyView(view) {
    this.map = view.map;
    this.bubbles = new Map(view.bubbles.map((b) => [b.id, b]));
    for (const event of this.recent || []) this.applyEvent(event);
    this.recent = null;
    this.renderHeader();
    this.render();
  }

  async refetch() {
    this.recent = [];
    try {
      this.applyView(await api("GET", `/api/1/maps/${this.mapId}`));
    } catch (error) {
      this.recent = null;
      if (error.status === 404) this.setState("deleted");
    }
  }

  onState(state, detail) {
    if (state === "open") this.setState("live");
    else if (state === "denied") this.setState("denied", detail);
    else if (state === "closed") this.setState(detail?.reason === "removed" ? "deleted" : "offline", detail);
    else this.setState(state);
  }

  setState(state, detail) {
    const badge = $("state");
    badge.dataset.state = state;
    badge.textContent = STATE_LABELS[state] || state;
    const overlay = $("overlay");
    let text = null;
    if (state === "denied") text = DENIALS[detail?.reason] || ["No access", detail?.message || ""];
    if (state === "deleted") text = ["This map was deleted", "Its owner deleted it. Nothing here can be edited any more."];
    overlay.hidden = !text;
    if (text) {
      $("owner-tools").hidden = true;
      $("hint").hidden = true;
      overlay.dataset.reason = state === "deleted" ? "removed" : detail?.reason || "denied";
      [$("overlay-title").textContent, $("overlay-text").textContent] = text;
      this.select(null);
    }
  }

  // requests -------------------------------------------------------------------------------

  async request(type, data) {
    try {
      const result = await this.ns.request(type, data, { timeout: 10000 });
      if (result && result.version) this.applyBubble(result);
      return result;
    } catch (error) {
      if (error.code === "conflict" && error.details) {
        this.applyBubble(error.details);
        this.render();
        throw error;
      }
      if (error.code === "not_found" && data.id) {
        this.bubbles.delete(data.id);
        toast("That bubble was deleted by someone else.", "warn");
      } else {
        toast(error.code === "invalid_data" ? `Not saved: ${error.message}` : `Not saved (${error.message})`, "error");
      }
      this.render();
      throw error;
    } finally {
      this.render();
    }
  }

  async create(x, y) {
    const color = PALETTE[Math.floor(Math.random() * (PALETTE.length - 1))];
    const bubble = await this.request("bubble-create", { x: Math.round(x), y: Math.round(y), text: "", color })
      .catch(() => null);
    if (bubble) this.select(bubble.id, { focus: true });
  }

  async move(bubble, x, y) {
    try {
      await this.request("bubble-update", { id: bubble.id, version: bubble.version, x: Math.round(x), y: Math.round(y) });
    } catch (error) {
      if (error.code === "conflict") {
        toast(`Someone changed this bubble first — showing their version (v${error.details.version}).`, "warn");
      }
    }
  }

  async save() {
    const bubble = this.bubbles.get(this.selected);
    if (!bubble) return;
    const draft = { text: $("editor-text").value, color: $("editor-color").value };
    await this.saveDraft(bubble, this.editVersion ?? bubble.version, draft);
  }

  async saveDraft(bubble, version, draft) {
    const changes = {};
    if (draft.text !== bubble.text) changes.text = draft.text;
    if (draft.color.toLowerCase() !== bubble.color.toLowerCase()) changes.color = draft.color;
    if (!Object.keys(changes).length) {
      this.dirty = false;
      return;
    }
    try {
      await this.request("bubble-update", { id: bubble.id, version, ...changes });
      this.conflictDraft = null;
      this.dirty = false;
      this.fillEditor();
    } catch (error) {
      if (error.code !== "conflict") return;
      this.conflictDraft = draft;
      this.fillEditor();
    }
  }

  async remove() {
    const id = this.selected;
    if (!id) return;
    this.select(null);
    await this.request("bubble-delete", { id }).catch(() => null);
  }

  // editor ---------------------------------------------------------------------------------

  select(id, { focus = false } = {}) {
    this.selected = id;
    this.conflictDraft = null;
    this.dirty = false;
    $("editor").hidden = id === null;
    this.fillEditor();
    this.render();
    if (focus) $("editor-text").focus();
  }

  fillEditor() {
    const bubble = this.bubbles.get(this.selected);
    if (!bubble) return;
    const draft = this.conflictDraft;
    this.editVersion = bubble.version;
    $("editor-version").textContent = `v${bubble.version}`;
    $("editor-version").dataset.version = String(bubble.version);
    $("conflict").hidden = !draft;
    if (draft) {
      $("conflict-text").textContent = `Their version (v${bubble.version}): “${bubble.text || "empty"}”. ` +
        "Your edit was not saved.";
    }
    const shown = draft || bubble;
    $("editor-text").value = shown.text;
    $("editor-color").value = shown.color;
    this.updateCounter();
    this.markSwatch();
  }

  updateCounter() {
    $("editor-count").textContent = `${$("editor-text").value.length}/500`;
  }

  markSwatch() {
    const color = $("editor-color").value.toLowerCase();
    for (const swatch of $("swatches").children) swatch.classList.toggle("active", swatch.dataset.color === color);
  }

  // drawing --------------------------------------------------------------------------------

  renderHeader() {
    const map = this.map;
    document.title = `${map.title} · bubblemap`;
    $("map-title").textContent = map.title;
    $("map-private").hidden = !map.private;
    $("map-owner").textContent = map.owner === app.me.name ? "owned by you" : `owned by ${map.owner}`;
    $("owner-tools").hidden = map.owner !== app.me.name;
    $("members").hidden = !map.private;
    $("members").textContent = map.members.length
      ? `Members: ${map.members.join(", ")}`
      : "Only you can see this map. Invite people by name.";
  }

  render() {
    const layer = $("bubbles");
    const seen = new Set();
    for (const bubble of this.bubbles.values()) {
      seen.add(String(bubble.id));
      const dragging = this.drag?.id === bubble.id && this.drag.moved;
      const x = dragging ? this.drag.x : bubble.x;
      const y = dragging ? this.drag.y : bubble.y;
      let group = layer.querySelector(`[data-bubble-id="${bubble.id}"]`);
      if (!group) group = layer.appendChild(this.bubbleNode(bubble));
      group.setAttribute("transform", `translate(${x - this.pan.x} ${y - this.pan.y})`);
      group.dataset.version = String(bubble.version);
      group.classList.toggle("selected", this.selected === bubble.id);
      group.classList.toggle("dragging", dragging);
      const r = radius(bubble.text);
      const circle = group.querySelector("circle");
      circle.setAttribute("r", r);
      circle.setAttribute("fill", bubble.color);
      const box = group.querySelector("foreignObject");
      const side = r * 1.5;
      for (const [k, v] of Object.entries({ x: -side / 2, y: -side / 2, width: side, height: side })) box.setAttribute(k, v);
      const label = box.firstChild;
      label.textContent = bubble.text || "New idea";
      label.classList.toggle("placeholder", !bubble.text);
      label.style.color = textColor(bubble.color);
    }
    for (const group of [...layer.children]) {
      if (!seen.has(group.dataset.bubbleId)) group.remove();
    }
    $("hint").hidden = this.bubbles.size > 0 || !$("overlay").hidden;
    if (this.selected !== null && !this.bubbles.has(this.selected)) this.select(null);
    else if (this.selected !== null && !this.conflictDraft && !this.dirty) this.fillEditor();
  }

  bubbleNode(bubble) {
    const group = svg("g", { class: "bubble", "data-testid": "bubble", "data-bubble-id": bubble.id });
    group.append(svg("circle", { r: 50, filter: "url(#lift)" }));
    const box = svg("foreignObject", {});
    const label = document.createElementNS(XHTML_NS, "div");
    label.className = "bubble-text";
    box.append(label);
    group.append(box);
    group.addEventListener("pointerdown", (event) => this.startDrag(event, bubble.id));
    group.addEventListener("dblclick", (event) => event.stopPropagation());
    return group;
  }

  // gestures -------------------------------------------------------------------------------

  point(event) {
    const matrix = $("canvas").getScreenCTM().inverse();
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(matrix);
    return { x: p.x + this.pan.x, y: p.y + this.pan.y };
  }

  startDrag(event, id) {
    if (event.button !== 0 || !this.live()) return;
    event.stopPropagation();
    const bubble = this.bubbles.get(id);
    const p = this.point(event);
    // The version is the one the user started from: a change made meanwhile is a conflict.
    this.drag = { id, bubble, dx: p.x - bubble.x, dy: p.y - bubble.y, x: bubble.x, y: bubble.y, moved: false,
      startX: event.clientX, startY: event.clientY };
    event.currentTarget.setPointerCapture(event.pointerId);
    event.currentTarget.addEventListener("pointermove", this.onDragMove);
    event.currentTarget.addEventListener("pointerup", this.onDragEnd, { once: true });
    event.currentTarget.addEventListener("pointercancel", this.onDragEnd, { once: true });
  }

  onDragMove = (event) => {
    const drag = this.drag;
    if (!drag) return;
    if (!drag.moved && Math.hypot(event.clientX - drag.startX, event.clientY - drag.startY) < 4) return;
    const p = this.point(event);
    drag.moved = true;
    drag.x = p.x - drag.dx;
    drag.y = p.y - drag.dy;
    this.render(); // local only: the move is sent once, on drop
  };

  onDragEnd = (event) => {
    event.currentTarget.removeEventListener("pointermove", this.onDragMove);
    const drag = this.drag;
    if (!drag) return;
    if (!drag.moved) {
      this.drag = null;
      this.select(drag.id);
      return;
    }
    // Keep showing the dropped position until the reply (or a conflict) replaces it.
    const current = this.bubbles.get(drag.id);
    if (current) this.bubbles.set(drag.id, { ...current, x: Math.round(drag.x), y: Math.round(drag.y) });
    this.drag = null;
    this.move(drag.bubble, drag.x, drag.y);
  };

  live() {
    return this.ns.state === "open";
  }
}

function openBoard(mapId) {
  showView("view-map");
  $("map-title").textContent = "";
  $("map-owner").textContent = "";
  $("owner-tools").hidden = true;
  $("members").hidden = true;
  $("bubbles").replaceChildren();
  $("editor").hidden = true;
  app.board = new Board(mapId);
  window.bubblemap = app;
}

function closeBoard() {
  if (app.board) app.board.close();
  app.board = null;
}

// Canvas gestures that are not on a bubble: double-click creates, drag pans, click deselects.
$("canvas").addEventListener("dblclick", (event) => {
  const board = app.board;
  if (!board || !board.live()) return;
  const p = board.point(event);
  board.create(p.x, p.y);
});

$("canvas").addEventListener("pointerdown", (event) => {
  const board = app.board;
  if (!board || event.button !== 0) return;
  const start = { x: event.clientX, y: event.clientY, pan: { ...board.pan } };
  const canvas = $("canvas");
  const scale = () => canvas.getScreenCTM().a;
  let moved = false;
  canvas.setPointerCapture(event.pointerId);
  const move = (e) => {
    const dx = e.clientX - start.x;
    const dy = e.clientY - start.y;
    if (!moved && Math.hypot(dx, dy) < 4) return;
    moved = true;
    canvas.classList.add("panning");
    board.pan = { x: start.pan.x - dx / scale(), y: start.pan.y - dy / scale() };
    $("backdrop").setAttribute("transform", `translate(${-board.pan.x % 24} ${-board.pan.y % 24})`);
    board.render();
  };
  const up = () => {
    canvas.removeEventListener("pointermove", move);
    canvas.classList.remove("panning");
    if (!moved && board.selected !== null) board.select(null);
  };
  canvas.addEventListener("pointermove", move);
  canvas.addEventListener("pointerup", up, { once: true });
});

$("editor-save").addEventListener("click", () => app.board?.save());
$("editor-delete").addEventListener("click", () => app.board?.remove());
$("editor-close").addEventListener("click", () => app.board?.select(null));
$("editor-text").addEventListener("input", () => {
  app.board.dirty = true;
  app.board.updateCounter();
});
$("editor-text").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) app.board?.save();
  if (event.key === "Escape") app.board?.select(null);
});
$("editor-color").addEventListener("input", () => {
  app.board.dirty = true;
  app.board.markSwatch();
});
$("conflict-keep").addEventListener("click", () => {
  const board = app.board;
  board.conflictDraft = null;
  board.dirty = false;
  board.fillEditor();
});
$("conflict-retry").addEventListener("click", () => {
  const board = app.board;
  const draft = board.conflictDraft;
  const bubble = board.bubbles.get(board.selected);
  board.conflictDraft = null;
  board.saveDraft(bubble, bubble.version, draft);
});
$("swatches").replaceChildren(...PALETTE.map((color) => {
  const swatch = el("button", { class: "swatch", type: "button", title: color, "data-color": color,
    "data-testid": "swatch" });
  swatch.style.background = color;
  swatch.addEventListener("click", () => {
    $("editor-color").value = color;
    app.board.dirty = true;
    app.board.markSwatch();
  });
  return swatch;
}));

$("invite-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const board = app.board;
  const name = $("invite-name").value.trim();
  try {
    board.map = await api("POST", `/api/1/maps/${board.mapId}/members`, { name });
    board.renderHeader();
    $("invite-name").value = "";
    toast(`${name} can now open this map.`, "success");
  } catch (error) {
    toast(error.code === "invalid_data" ? "That is not a valid name." : error.message, "error");
  }
});

let deleteArmed = null;
$("delete-map").addEventListener("click", async () => {
  const button = $("delete-map");
  if (!deleteArmed) {
    button.textContent = "Click again to delete";
    button.classList.add("armed");
    deleteArmed = setTimeout(() => {
      deleteArmed = null;
      button.textContent = "Delete map";
      button.classList.remove("armed");
    }, 4000);
    return;
  }
  clearTimeout(deleteArmed);
  deleteArmed = null;
  button.textContent = "Delete map";
  button.classList.remove("armed");
  try {
    await api("DELETE", `/api/1/maps/${app.board.mapId}`);
    navigate("/");
    toast("Map deleted.", "success");
  } catch (error) {
    toast(error.message, "error");
  }
});

// -- start --------------------------------------------------------------------------------

setMe(await api("GET", "/api/1/session"));
route();
