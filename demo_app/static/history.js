// Undo/redo of this page's own changes, as data: which request undoes or redoes a change.
// Nothing is sent from here; the map view sends what `inverse` describes through the same
// requests as any edit, so a change someone else made meanwhile still ends in a conflict.

const FIELDS = ["x", "y", "text", "color"];

/** The fields of `bubble` named in `keys` (all of them by default). */
export function fieldsOf(bubble, keys = FIELDS) {
  return Object.fromEntries(keys.map((key) => [key, bubble[key]]));
}

/** A change is `{kind: "create"|"delete", id, fields}` or `{kind: "update", id, before, after}`. */
export function inverse(change) {
  if (change.kind === "update") return { ...change, before: change.after, after: change.before };
  return { ...change, kind: change.kind === "create" ? "delete" : "create" };
}

export class UndoHistory {
  constructor(limit = 100) {
    this.limit = limit;
    this.done = [];
    this.undone = [];
  }

  get canUndo() { return this.done.length > 0; }
  get canRedo() { return this.undone.length > 0; }

  /** A change the user just made: it can be undone, and nothing undone can be redone. */
  record(change) {
    this.done.push(change);
    if (this.done.length > this.limit) this.done.shift();
    this.undone = [];
  }

  /** The change that undoes the last one (to send), or null. */
  nextUndo() { return this.canUndo ? inverse(this.done.at(-1)) : null; }
  nextRedo() { return this.canRedo ? this.undone.at(-1) : null; }

  /** The undo was stored: move the change to the redo stack. */
  undid() { this.undone.push(this.done.pop()); }
  redid() { this.done.push(this.undone.pop()); }

  /** The change can no longer be undone or redone (its bubble is gone): forget it. */
  dropUndo() { this.done.pop(); }
  dropRedo() { this.undone.pop(); }

  /** Re-creating a deleted bubble gives it a new id (ids are never reused): follow it. */
  renumber(oldId, newId) {
    for (const change of [...this.done, ...this.undone]) if (change.id === oldId) change.id = newId;
  }
}
