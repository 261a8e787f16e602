// The bubble editor (text and colour) beside the board. It edits the bubble as it was when
// opened: saving after someone else changed it is a conflict, shown with both versions,
// never a silent overwrite. Saving and deleting are handed to `actions`.
import { $, el } from "./dom.js";
import { editedBy } from "./when.js";

export const PALETTE = ["#fde68a", "#fecaca", "#bbf7d0", "#bfdbfe", "#ddd6fe", "#fbcfe8", "#fed7aa", "#e5e7eb"];

/** `actions`: `save(bubble, version, changes)` → Promise (rejects with the request's error),
 * `remove(id)`, `closed(id)` (the editor closed; the board may take the focus back). */
export class Editor {
  constructor({ state, actions, signal }) {
    this.state = state;
    this.actions = actions;
    this.id = null;
    /** The version the user started editing from. */
    this.version = null;
    this.dirty = false;
    /** The user's unsaved text and colour after a conflict, shown until resolved. */
    this.conflictDraft = null;
    const on = (id, type, fn) => $(id).addEventListener(type, fn, { signal });
    on("editor-save", "click", () => this.save());
    on("editor-delete", "click", () => this.id !== null && this.actions.remove(this.id));
    on("editor-close", "click", () => this.close());
    on("editor-text", "input", () => { this.dirty = true; this.updateCounter(); });
    on("editor-text", "keydown", (event) => {
      if (event.key === "Enter" && (event.metaKey || event.ctrlKey)) this.save();
    });
    on("editor", "keydown", (event) => { if (event.key === "Escape") this.close(); });
    on("editor-color", "input", () => { this.dirty = true; this.markSwatch(); });
    on("conflict-keep", "click", () => {
      this.conflictDraft = null;
      this.dirty = false;
      this.fill();
    });
    on("conflict-retry", "click", () => {
      const draft = this.conflictDraft;
      this.conflictDraft = null;
      this.saveDraft(this.state.get(this.id).version, draft);
    });
    $("swatches").replaceChildren(...PALETTE.map((color) => {
      const swatch = el("button", { class: "swatch", type: "button", title: color, "aria-label": `Colour ${color}`,
        "data-color": color, "data-testid": "swatch" });
      swatch.style.background = color;
      swatch.addEventListener("click", () => {
        $("editor-color").value = color;
        this.dirty = true;
        this.markSwatch();
      }, { signal });
      return swatch;
    }));
    $("editor").hidden = true;
  }

  get open() {
    return this.id !== null;
  }

  /** Open the editor on bubble `id` (null closes it); `focus` puts the cursor in its text. */
  show(id, { focus = false } = {}) {
    this.id = id;
    this.conflictDraft = null;
    this.dirty = false;
    $("editor").hidden = id === null;
    this.fill();
    if (focus) $("editor-text").focus();
  }

  close() {
    const id = this.id;
    this.show(null);
    if (id !== null) this.actions.closed(id);
  }

  /** The bubble changed (or vanished): show it, unless the user is typing over it. */
  refresh() {
    if (this.id === null) return;
    if (!this.state.has(this.id)) this.close();
    else if (!this.conflictDraft && !this.dirty) this.fill();
  }

  /** Saving and deleting need a live connection; the text stays editable (a draft). */
  setEditable(editable) {
    $("editor-save").disabled = !editable;
    $("editor-delete").disabled = !editable;
  }

  fill() {
    const bubble = this.state.get(this.id);
    if (!bubble) return;
    const draft = this.conflictDraft;
    this.version = bubble.version;
    $("editor-version").textContent = `v${bubble.version}`;
    $("editor-version").dataset.version = String(bubble.version);
    $("editor-edited").textContent = editedBy(bubble);
    $("conflict").hidden = !draft;
    if (draft) {
      const by = bubble.edited_by ? `, by ${bubble.edited_by}` : "";
      $("conflict-text").textContent = `Their version (v${bubble.version}${by}): “${bubble.text || "empty"}”. ` +
        "Your edit was not saved.";
    }
    const shown = draft || bubble;
    $("editor-text").value = shown.text;
    $("editor-color").value = shown.color;
    this.updateCounter();
    this.markSwatch();
  }

  async save() {
    if (this.id === null || $("editor-save").disabled) return;
    await this.saveDraft(this.version ?? this.state.get(this.id).version,
      { text: $("editor-text").value, color: $("editor-color").value });
  }

  async saveDraft(version, draft) {
    const bubble = this.state.get(this.id);
    if (!bubble) return;
    const changes = {};
    if (draft.text !== bubble.text) changes.text = draft.text;
    if (draft.color.toLowerCase() !== bubble.color.toLowerCase()) changes.color = draft.color;
    if (!Object.keys(changes).length) {
      this.dirty = false;
      return;
    }
    try {
      await this.actions.save(bubble, version, changes);
      this.conflictDraft = null;
      this.dirty = false;
      this.fill();
    } catch (error) {
      if (error.code !== "conflict") return;
      this.conflictDraft = draft;
      this.fill();
    }
  }

  updateCounter() {
    $("editor-count").textContent = `${$("editor-text").value.length}/500`;
  }

  markSwatch() {
    const color = $("editor-color").value.toLowerCase();
    for (const swatch of $("swatches").children) {
      const active = swatch.dataset.color === color;
      swatch.classList.toggle("active", active);
      swatch.setAttribute("aria-pressed", String(active));
    }
  }
}
