// One open map: ties its connection, its state, the board, the editor and the undo history
// together. Every change the user makes goes through `request`, whose answer (or conflict)
// is applied by the same version rule as the frames of everyone else.
import { Board } from "./board.js";
import { BubbleState } from "./bubbles.js";
import { DENIALS, MapConnection, STATUS } from "./connection.js";
import { $, toast, typingIn } from "./dom.js";
import { Editor, PALETTE } from "./editor.js";
import { MapHeader } from "./header.js";
import { fieldsOf, UndoHistory } from "./history.js";
import { editorsOf, renderPresence } from "./presence.js";
import { RELATIVE_TIME_REFRESH } from "./when.js";

const ZOOM_STEP = 1.25;

export class MapView {
  /** `me` is the signed-in user, `leave()` goes back to the map list. */
  constructor(mapId, me, leave) {
    this.mapId = mapId;
    this.status = "connecting";
    this.state = new BubbleState();
    this.history = new UndoHistory();
    /** id → the position a move is on its way to (one request per bubble at a time). */
    this.targets = new Map();
    /** ids whose move request is on its way. */
    this.sending = new Set();
    /** The undo/redo steps asked for, one after the other. */
    this.steps = Promise.resolve();
    this.aborter = new AbortController();
    const signal = this.aborter.signal;
    this.header = new MapHeader({ mapId, me, leave, signal });
    $("pan-hint").hidden = false;
    this.board = new Board({
      canvas: $("canvas"), viewport: $("viewport"), layer: $("bubbles"), state: this.state, signal,
      actions: {
        editable: () => this.editable(),
        create: (x, y) => this.create(x, y),
        moveTo: (id, x, y) => this.moveTo(id, x, y),
        select: (id, { edit }) => this.select(id, edit),
        remove: (id) => this.remove(id),
        viewChanged: (view) => this.viewChanged(view),
      },
    });
    this.editor = new Editor({
      state: this.state, signal,
      actions: {
        save: (bubble, version, changes) => this.update(bubble, version, changes),
        remove: (id) => this.remove(id),
        closed: (id) => { this.select(null); this.board.focus(id); },
      },
    });
    this.bindControls(signal);
    // "edited by Ann, just now" ages while nothing changes.
    this.clock = setInterval(() => this.render(), RELATIVE_TIME_REFRESH);
    this.connection = new MapConnection(mapId, {
      view: (view) => this.applyView(view),
      event: (event) => { this.state.apply(event); this.render(); },
      status: (state, denial) => this.setStatus(state, denial),
      presence: (members) => this.showPresence(members, me),
      map: (map) => this.header.render(map),
    });
  }

  close() {
    clearInterval(this.clock);
    this.aborter.abort();
    this.connection.close();
    $("presence").replaceChildren();
    this.editor.show(null);
  }

  /** Who is on the map and what they are doing: the people list, and others' bubbles ringed. */
  showPresence(members, me) {
    renderPresence($("presence"), members, me?.name);
    this.board.editors = editorsOf(members, this.connection.clientId);
    this.board.render();
  }

  editable() {
    return this.status === "live" && Boolean(this.connection?.live);
  }

  // state ---------------------------------------------------------------------------------

  applyView(view) {
    this.header.render(view.map);
    this.state.replace(view.bubbles, view.last_bubble_id);
    this.render();
  }

  render() {
    this.board.render();
    this.editor.refresh();
    if (this.board.selected !== null && !this.state.has(this.board.selected)) this.board.selected = null;
    this.connection?.select(this.board.selected);
    $("hint").hidden = this.state.size > 0 || this.status !== "live";
    this.updateControls();
  }

  setStatus(state, denial) {
    this.status = state;
    const info = STATUS[state];
    const badge = $("state");
    badge.dataset.state = state;
    badge.textContent = info.badge;
    const editable = state === "live";
    $("canvas-wrap").dataset.paused = String(!editable);
    $("canvas").setAttribute("aria-disabled", String(!editable));
    $("paused").hidden = editable || Boolean(denial);
    $("paused-reason").textContent = info.reason || "";
    const overlay = $("overlay");
    overlay.hidden = !denial;
    if (denial) {
      overlay.dataset.reason = denial;
      [$("overlay-title").textContent, $("overlay-text").textContent] = DENIALS[denial] || ["No access", ""];
      this.header.disable();
      this.select(null);
    }
    this.editor.setEditable(editable);
    this.render();
  }

  // requests ------------------------------------------------------------------------------

  /** Send a request; its answer is applied like any frame. A conflict applies the winner's
   * version and is re-thrown for the caller to explain; other failures are toasted here. */
  async request(type, data) {
    try {
      const result = await this.connection.request(type, data);
      if (result && result.version) this.state.put(result);
      return result;
    } catch (error) {
      if (error.code === "conflict" && error.details) {
        this.state.put(error.details);
      } else if (error.code === "not_found" && data.id) {
        this.state.remove(data.id);
        toast("That bubble was deleted by someone else.", "warn");
      } else {
        toast(error.code === "invalid_data" ? `Not saved: ${error.message}` : `Not saved (${error.message})`, "error");
      }
      throw error;
    } finally {
      this.render();
    }
  }

  async create(x, y) {
    const fields = { x: Math.round(x), y: Math.round(y), text: "",
      color: PALETTE[Math.floor(Math.random() * (PALETTE.length - 1))] };
    const bubble = await this.request("bubble-create", fields).catch(() => null);
    if (!bubble) return;
    this.history.record({ kind: "create", id: bubble.id, fields });
    this.select(bubble.id, true);
  }

  async update(bubble, version, changes) {
    const stored = await this.request("bubble-update", { id: bubble.id, version, ...changes });
    this.history.record({ kind: "update", id: bubble.id, before: fieldsOf(bubble, Object.keys(changes)), after: changes });
    return stored;
  }

  /** Move a bubble (drag, arrow keys); moves made while one is on its way are merged into
   * the next request, so each is sent with the version the previous one produced. */
  moveTo(id, x, y) {
    const target = { x: Math.round(x), y: Math.round(y) };
    this.targets.set(id, target);
    this.board.preview.set(id, target);
    this.board.render();
    if (!this.sending.has(id)) this.sendMoves(id);
  }

  async sendMoves(id) {
    this.sending.add(id);
    try {
      for (;;) {
        const target = this.targets.get(id);
        const bubble = this.state.get(id);
        if (!target || !bubble || (target.x === bubble.x && target.y === bubble.y)) break;
        try {
          await this.update(bubble, bubble.version, target);
        } catch (error) {
          if (error.code === "conflict") {
            toast(`Someone changed this bubble first — showing their version (v${error.details.version}).`, "warn");
          }
          break;
        }
      }
    } finally {
      this.sending.delete(id);
      this.targets.delete(id);
      this.board.preview.delete(id);
      this.render();
    }
  }

  async remove(id) {
    const bubble = this.state.get(id);
    if (!bubble) return;
    this.select(null);
    try {
      await this.request("bubble-delete", { id });
    } catch {
      return;
    }
    this.history.record({ kind: "delete", id, fields: fieldsOf(bubble) });
    if (!typingIn(document.activeElement)) $("canvas").focus(); // not lost to the page's body
    toast("Bubble deleted.", "info", { label: "Undo", run: () => this.undo() });
  }

  // undo / redo -----------------------------------------------------------------------------

  /** Send the request a change describes; a re-created bubble's new id replaces the old. */
  async perform(change) {
    if (change.kind === "update") {
      const current = this.state.get(change.id);
      if (!current) throw Object.assign(new Error("gone"), { code: "not_found" });
      await this.request("bubble-update", { id: change.id, version: current.version, ...change.after });
    } else if (change.kind === "create") {
      const bubble = await this.request("bubble-create", change.fields);
      this.history.renumber(change.id, bubble.id);
    } else {
      await this.request("bubble-delete", { id: change.id });
    }
  }

  undo() { return this.step("undo"); }
  redo() { return this.step("redo"); }

  /** Undo or redo after the steps already asked for: quick presses of Ctrl-Z all count, and
   * each is sent with the version the previous one produced. */
  step(direction) {
    this.steps = this.steps.then(() => this.runStep(direction));
    return this.steps;
  }

  async runStep(direction) {
    const undo = direction === "undo";
    const change = undo ? this.history.nextUndo() : this.history.nextRedo();
    if (!change || !this.editable()) return;
    try {
      await this.perform(change);
      if (undo) this.history.undid();
      else this.history.redid();
    } catch (error) {
      if (error.code === "conflict") {
        toast(`Not ${direction}ne: someone changed this bubble first — showing their version.`, "warn");
      } else if (error.code === "not_found") {
        if (undo) this.history.dropUndo();
        else this.history.dropRedo();
      }
    } finally {
      this.render();
    }
  }

  // selection, view, controls -------------------------------------------------------------

  select(id, edit = false) {
    this.board.selected = id;
    this.editor.show(id, { focus: edit });
    this.board.render();
    this.connection?.select(id);
  }

  viewChanged(view) {
    const level = `${Math.round(view.k * 100)}%`;
    $("zoom-level").textContent = level;
    $("zoom-reset").setAttribute("aria-label", `${level}: reset zoom`);
    if (this.board) $("pan-hint").hidden = true; // the user found pan or zoom: no more hint
  }

  updateControls() {
    const editable = this.editable();
    $("add-bubble").disabled = !editable;
    $("undo").disabled = !editable || !this.history.canUndo;
    $("redo").disabled = !editable || !this.history.canRedo;
  }

  bindControls(signal) {
    const on = (target, type, fn) => target.addEventListener(type, fn, { signal });
    on($("add-bubble"), "click", () => {
      const p = this.board.center();
      this.create(p.x, p.y);
    });
    on($("undo"), "click", () => this.undo());
    on($("redo"), "click", () => this.redo());
    on($("zoom-in"), "click", () => this.board.zoomBy(ZOOM_STEP));
    on($("zoom-out"), "click", () => this.board.zoomBy(1 / ZOOM_STEP));
    on($("zoom-reset"), "click", () => this.board.resetZoom());
    on(document, "keydown", (event) => {
      if (!(event.ctrlKey || event.metaKey) || event.altKey || typingIn(event.target)) return;
      const key = event.key.toLowerCase();
      if (key === "z" && !event.shiftKey) this.undo();
      else if ((key === "z" && event.shiftKey) || key === "y") this.redo();
      else return;
      event.preventDefault();
    });
  }
}
