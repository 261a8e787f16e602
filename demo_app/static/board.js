// The map drawn in SVG: bubbles, the view (pan and zoom), and the gestures on it (drag,
// double-click, wheel, pinch, keyboard). It changes nothing itself: every gesture that
// would change the map is handed to `actions`, which sends the request.
import { svg } from "./dom.js";
import { ago, editedBy } from "./when.js";

const XHTML_NS = "http://www.w3.org/1999/xhtml";
const MIN_ZOOM = 0.25;
const MAX_ZOOM = 4;
/** Pixels a pointer must travel before a press becomes a drag (below: a click). */
const DRAG_SLOP = 4;
/** Board units an arrow key moves a bubble (with Shift: ×5). */
const NUDGE = 10;

export function textColor(hex) {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
  return 0.299 * r + 0.587 * g + 0.114 * b > 0.6 ? "#1f2937" : "#ffffff";
}

export function radius(text) {
  return Math.round(Math.min(96, 48 + Math.sqrt(text.length) * 3.6));
}

/** The line under a bubble's text: who changed it last ("" when it does not say). */
export function byline(bubble) {
  return bubble.edited_by ? `by ${bubble.edited_by}` : "";
}

/** A bubble's accessible name ("bubble" is its role description): what it shows, in the
 * same order (a name must contain the visible text), then when it was changed. */
export function describe(bubble) {
  const notes = [bubble.text ? "" : "empty", bubble.edited_at ? `edited ${ago(bubble.edited_at)}` : ""];
  const said = [bubble.text || "New idea", byline(bubble)].filter(Boolean).join(" ");
  const noted = notes.filter(Boolean).join(", ");
  return noted ? `${said} (${noted})` : said;
}

/**
 * `canvas` is the <svg>, `viewport` the <g> that holds the board (pan and zoom are its
 * transform), `layer` the <g> of bubbles inside it. `actions`: `editable()`,
 * `create(x, y)`, `moveTo(id, x, y)`, `select(id, {edit})`, `remove(id)`, `viewChanged()`.
 */
export class Board {
  constructor({ canvas, viewport, layer, state, actions, signal }) {
    Object.assign(this, { canvas, viewport, layer, state, actions });
    /** The board point at the canvas's top-left corner, and the zoom factor. */
    this.view = { x: 0, y: 0, k: 1 };
    this.selected = null;
    /** id → `{name, color}` of someone else working on that bubble (presence.js). */
    this.editors = new Map();
    /** id → {x, y} shown instead of the stored position: a drag, or a move on its way. */
    this.preview = new Map();
    this.pointers = new Map();
    this.gesture = null;
    this.layer.replaceChildren();
    this.applyView();
    const on = (target, type, fn, options = {}) => target.addEventListener(type, fn, { ...options, signal });
    on(canvas, "dblclick", (event) => this.onDoubleClick(event));
    on(canvas, "pointerdown", (event) => this.onPointerDown(event));
    on(canvas, "pointermove", (event) => this.onPointerMove(event));
    on(canvas, "pointerup", (event) => this.onPointerUp(event));
    on(canvas, "pointercancel", (event) => this.onPointerUp(event, { cancelled: true }));
    on(canvas, "wheel", (event) => this.onWheel(event), { passive: false });
    on(layer, "keydown", (event) => this.onKey(event));
  }

  // drawing -------------------------------------------------------------------------------

  render() {
    const seen = new Set();
    for (const bubble of this.state.values()) {
      seen.add(String(bubble.id));
      const at = this.preview.get(bubble.id) || bubble;
      let group = this.node(bubble.id);
      if (!group) group = this.layer.appendChild(this.bubbleNode(bubble));
      group.setAttribute("transform", `translate(${at.x} ${at.y})`);
      group.dataset.version = String(bubble.version);
      group.setAttribute("aria-label", describe(bubble));
      group.classList.toggle("selected", this.selected === bubble.id);
      this.markEditor(group, this.editors.get(bubble.id));
      group.classList.toggle("dragging", this.gesture?.kind === "drag" && this.gesture.id === bubble.id && this.gesture.moved);
      const r = radius(bubble.text);
      const circle = group.querySelector("circle");
      circle.setAttribute("r", r);
      circle.setAttribute("fill", bubble.color);
      const box = group.querySelector("foreignObject");
      const side = r * 1.5;
      for (const [k, v] of Object.entries({ x: -side / 2, y: -side / 2, width: side, height: side })) box.setAttribute(k, v);
      const [label, by] = box.firstChild.children;
      label.textContent = bubble.text || "New idea";
      label.classList.toggle("placeholder", !bubble.text);
      box.firstChild.style.color = textColor(bubble.color);
      // The line under the text names only the person (the bubble is small); the tooltip
      // and the accessible name say when too.
      by.textContent = byline(bubble);
      by.hidden = !bubble.edited_by;
      group.querySelector("title").textContent = editedBy(bubble) || describe(bubble);
    }
    for (const group of [...this.layer.children]) {
      if (!seen.has(group.dataset.bubbleId)) this.removeNode(group);
    }
  }

  /** Ring a bubble in the colour of someone else working on it (`editor`), or not. */
  markEditor(group, editor) {
    group.classList.toggle("edited-by-other", Boolean(editor));
    if (editor) {
      group.dataset.editor = editor.name;
      if (editor.color) group.style.setProperty("--editor-color", editor.color);
    } else {
      delete group.dataset.editor;
      group.style.removeProperty("--editor-color");
    }
  }

  node(id) {
    return this.layer.querySelector(`[data-bubble-id="${id}"]`);
  }

  /** A bubble's node leaves; if it had the focus, the canvas takes it (not the page's body). */
  removeNode(group) {
    const focused = group.contains(document.activeElement);
    group.remove();
    if (focused) this.canvas.focus();
  }

  bubbleNode(bubble) {
    const group = svg("g", { class: "bubble", "data-testid": "bubble", "data-bubble-id": bubble.id,
      tabindex: "0", role: "button", "aria-roledescription": "bubble",
      "aria-keyshortcuts": "Enter Delete ArrowUp ArrowDown ArrowLeft ArrowRight" });
    group.append(svg("title"), svg("circle", { r: 50, filter: "url(#lift)" }));
    const box = svg("foreignObject", { "aria-hidden": "true" });
    const body = document.createElementNS(XHTML_NS, "div");
    body.className = "bubble-body";
    const label = document.createElementNS(XHTML_NS, "div");
    label.className = "bubble-text";
    const by = document.createElementNS(XHTML_NS, "div");
    by.className = "bubble-by";
    by.dataset.testid = "bubble-edited-by";
    // A space between the lines: their text reads "idea by ann", as the accessible name does.
    body.append(label, " ", by);
    box.append(body);
    group.append(box);
    return group;
  }

  focus(id) {
    this.node(id)?.focus();
  }

  // the view ------------------------------------------------------------------------------

  applyView() {
    const { x, y, k } = this.view;
    this.viewport.setAttribute("transform", `scale(${k}) translate(${-x} ${-y})`);
    this.canvas.dataset.zoom = String(Math.round(k * 100));
    this.actions.viewChanged(this.view);
  }

  /** The board point under a pointer (whatever the pan and zoom). */
  point(event) {
    const p = new DOMPoint(event.clientX, event.clientY).matrixTransform(this.viewport.getScreenCTM().inverse());
    return { x: p.x, y: p.y };
  }

  /** The board point at the middle of the canvas (where a keyboard-made bubble goes). */
  center() {
    const box = this.canvas.getBoundingClientRect();
    return this.point({ clientX: box.left + box.width / 2, clientY: box.top + box.height / 2 });
  }

  /** Zoom by `factor`, keeping the board point under (clientX, clientY) where it is. */
  zoomAt(factor, clientX, clientY) {
    const k = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, this.view.k * factor));
    const p = this.point({ clientX, clientY });
    const ratio = this.view.k / k;
    this.view = { x: p.x - (p.x - this.view.x) * ratio, y: p.y - (p.y - this.view.y) * ratio, k };
    this.applyView();
  }

  /** Zoom around the canvas's middle (the zoom buttons). */
  zoomBy(factor) {
    const box = this.canvas.getBoundingClientRect();
    this.zoomAt(factor, box.left + box.width / 2, box.top + box.height / 2);
  }

  resetZoom() {
    this.zoomBy(1 / this.view.k);
  }

  panBy(dxScreen, dyScreen) {
    this.view = { ...this.view, x: this.view.x - dxScreen / this.view.k, y: this.view.y - dyScreen / this.view.k };
    this.applyView();
  }

  // gestures ------------------------------------------------------------------------------

  onDoubleClick(event) {
    if (event.target.closest(".bubble") || !this.actions.editable()) return;
    const p = this.point(event);
    this.actions.create(p.x, p.y);
  }

  onPointerDown(event) {
    if (event.pointerType === "mouse" && event.button !== 0) return;
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (this.pointers.size === 2) {
      // A second finger: whatever the first one was doing becomes a pinch.
      this.cancelDrag();
      this.gesture = { kind: "pinch", ...this.pinchState() };
      return;
    }
    if (this.pointers.size > 2) return;
    const group = event.target.closest(".bubble");
    const start = { startX: event.clientX, startY: event.clientY, moved: false };
    if (group && this.actions.editable()) {
      const id = Number(group.dataset.bubbleId);
      const bubble = this.state.get(id);
      const p = this.point(event);
      // The version is the one the user started from: a change made meanwhile is a conflict.
      this.gesture = { kind: "drag", id, dx: p.x - bubble.x, dy: p.y - bubble.y, ...start };
    } else if (group) {
      this.gesture = { kind: "press", id: Number(group.dataset.bubbleId), ...start };
    } else {
      this.gesture = { kind: "pan", lastX: event.clientX, lastY: event.clientY, ...start };
    }
  }

  pinchState() {
    const [a, b] = [...this.pointers.values()];
    return { distance: Math.hypot(a.x - b.x, a.y - b.y) || 1, midX: (a.x + b.x) / 2, midY: (a.y + b.y) / 2 };
  }

  onPointerMove(event) {
    if (!this.pointers.has(event.pointerId)) return;
    this.pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    const gesture = this.gesture;
    if (!gesture) return;
    if (gesture.kind === "pinch") {
      if (this.pointers.size !== 2) return;
      const now = this.pinchState();
      this.panBy(now.midX - gesture.midX, now.midY - gesture.midY);
      this.zoomAt(now.distance / gesture.distance, now.midX, now.midY);
      Object.assign(gesture, now);
      return;
    }
    if (!gesture.moved) {
      if (Math.hypot(event.clientX - gesture.startX, event.clientY - gesture.startY) < DRAG_SLOP) return;
      // Captured only once it is a drag: a capture would retarget a plain click (and a
      // double-click on a bubble would then look like one on the background).
      this.canvas.setPointerCapture(event.pointerId);
      gesture.moved = true;
    }
    if (gesture.kind === "drag") {
      const p = this.point(event);
      this.preview.set(gesture.id, { x: p.x - gesture.dx, y: p.y - gesture.dy });
      this.render(); // local only: the move is sent once, on drop
    } else if (gesture.kind === "pan") {
      this.canvas.classList.add("panning");
      this.panBy(event.clientX - gesture.lastX, event.clientY - gesture.lastY);
      gesture.lastX = event.clientX;
      gesture.lastY = event.clientY;
    }
  }

  onPointerUp(event, { cancelled = false } = {}) {
    if (!this.pointers.delete(event.pointerId)) return;
    const gesture = this.gesture;
    if (gesture?.kind === "pinch") {
      if (this.pointers.size === 0) this.gesture = null;
      return;
    }
    this.gesture = null;
    this.canvas.classList.remove("panning");
    if (!gesture || cancelled) {
      if (gesture?.kind === "drag") this.cancelDrag(gesture);
      return;
    }
    if (gesture.kind === "drag" && gesture.moved) {
      const at = this.preview.get(gesture.id);
      if (at) this.actions.moveTo(gesture.id, at.x, at.y);
    } else if (gesture.kind === "drag" || gesture.kind === "press") {
      this.actions.select(gesture.id, { edit: false });
    } else if (!gesture.moved) {
      this.actions.select(null, { edit: false });
    }
  }

  cancelDrag(gesture = this.gesture) {
    if (gesture?.kind !== "drag") return;
    this.preview.delete(gesture.id);
    this.render();
  }

  onWheel(event) {
    event.preventDefault();
    // Trackpad pinches arrive as ctrl+wheel with small deltas: the same formula fits both.
    const factor = Math.exp(-event.deltaY * (event.ctrlKey ? 0.01 : 0.0015));
    this.zoomAt(factor, event.clientX, event.clientY);
  }

  onKey(event) {
    const group = event.target.closest?.(".bubble");
    if (!group) return;
    const id = Number(group.dataset.bubbleId);
    const bubble = this.state.get(id);
    if (!bubble) return;
    const step = event.shiftKey ? NUDGE * 5 : NUDGE;
    const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (event.key === "Enter" || event.key === " ") {
      this.actions.select(id, { edit: true });
    } else if (event.key === "Delete" || event.key === "Backspace") {
      if (this.actions.editable()) this.actions.remove(id);
    } else if (event.key in arrows) {
      if (!this.actions.editable()) return;
      const at = this.preview.get(id) || bubble;
      const [dx, dy] = arrows[event.key];
      this.actions.moveTo(id, at.x + dx, at.y + dy);
    } else {
      return;
    }
    event.preventDefault();
  }
}
