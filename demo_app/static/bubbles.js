// The bubbles a page shows, and the one rule for what may replace them.
//
// Frames can arrive twice or late (an outbox re-publishes a change whose publication it
// could not confirm; a snapshot may have been read before a change already shown), so the
// page keeps, for every bubble, the highest version it has seen, and never brings back a
// deleted bubble (ids are never reused): one it saw deleted, or one a snapshot lacked
// although its id had been given out when the snapshot was read (`last_bubble_id`).
// No DOM here: the rule is tested on its own.

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
    /** @type {Set<number>} ids seen deleted */
    this.deleted = new Set();
    /** The highest `last_bubble_id` of the snapshots applied: an id up to it that the page
     * does not have was deleted before that snapshot was read. */
    this.lastBubbleId = 0;
  }

  get(id) { return this.byId.get(id); }
  has(id) { return this.byId.has(id); }
  get size() { return this.byId.size; }
  values() { return this.byId.values(); }

  /** A bubble from a frame, a reply or a conflict; false when it was ignored. */
  put(bubble) {
    const current = this.byId.get(bubble.id);
    if (current === undefined && bubble.id <= this.lastBubbleId) return false;
    if (!accepts(current, bubble, this.deleted)) return false;
    this.byId.set(bubble.id, bubble);
    return true;
  }

  remove(id) {
    this.deleted.add(id);
    return this.byId.delete(id);
  }

  /** A snapshot (the whole map, read at some moment; `lastBubbleId` the highest id given
   * out then): a bubble it lacks was deleted before that moment unless its id is higher
   * (created since); one it has replaces the page's only when newer. Without
   * `lastBubbleId` every bubble it lacks counts as deleted. The caller replays the frames
   * received while the snapshot was on its way afterwards. */
  replace(bubbles, lastBubbleId) {
    const listed = new Set(bubbles.map((bubble) => bubble.id));
    const readUpTo = lastBubbleId ?? Infinity;
    for (const id of [...this.byId.keys()]) if (!listed.has(id) && id <= readUpTo) this.byId.delete(id);
    for (const bubble of bubbles) this.put(bubble);
    this.lastBubbleId = Math.max(this.lastBubbleId, lastBubbleId ?? 0);
  }

  /** A frame's effect: `{bubble}` (created or updated) or `{deleted: id}`. */
  apply({ bubble, deleted }) {
    return deleted !== undefined ? this.remove(deleted) : this.put(bubble);
  }
}
