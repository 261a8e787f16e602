// The bubbles a page shows, and the one rule for what may replace them.
//
// Frames can arrive twice or late (an outbox re-publishes a change whose publication it
// could not confirm; a snapshot may have been read before a change already shown), so the
// page keeps, for every bubble, the highest version it has seen, and never brings back a
// bubble it saw deleted (ids are never reused). No DOM here: the rule is tested on its own.

/** Whether `incoming` may replace `current` (a bubble or undefined); `deleted` is the set of
 * ids this page saw deleted. */
export function accepts(current, incoming, deleted) {
  if (deleted.has(incoming.id)) return false;
  return current === undefined || incoming.version > current.version;
}

export class BubbleState {
  constructor() {
    /** @type {Map<number, object>} id → the newest version seen */
    this.byId = new Map();
    /** @type {Set<number>} */
    this.deleted = new Set();
  }

  get(id) { return this.byId.get(id); }
  has(id) { return this.byId.has(id); }
  get size() { return this.byId.size; }
  values() { return this.byId.values(); }

  /** A bubble from a frame, a reply or a conflict; false when it was ignored. */
  put(bubble) {
    if (!accepts(this.byId.get(bubble.id), bubble, this.deleted)) return false;
    this.byId.set(bubble.id, bubble);
    return true;
  }

  remove(id) {
    this.deleted.add(id);
    return this.byId.delete(id);
  }

  /** A snapshot (the whole map, read at some moment): a bubble it lacks was deleted before
   * that moment; one it has replaces the page's only when newer. The caller replays the
   * frames received while the snapshot was on its way afterwards. */
  replace(bubbles) {
    const listed = new Set(bubbles.map((bubble) => bubble.id));
    for (const id of [...this.byId.keys()]) if (!listed.has(id)) this.byId.delete(id);
    for (const bubble of bubbles) this.put(bubble);
  }

  /** A frame's effect: `{bubble}` (created or updated) or `{deleted: id}`. */
  apply({ bubble, deleted }) {
    return deleted !== undefined ? this.remove(deleted) : this.put(bubble);
  }
}
