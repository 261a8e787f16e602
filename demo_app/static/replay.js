// Snapshot, then replay: a whole view (a snapshot frame, a REST read) with the live events
// received while it was on its way applied again on top of it. The server may read the view
// before a change it has already broadcast; without the replay the page would show the view
// and lose that change. The map page and the map list both keep their state this way.

/**
 * One page's view and the live events on top of it. `show(view)` replaces the page's state
 * with a whole view; `apply(event)` changes it by one live event, and must be idempotent
 * by version (a replayed event may already be in the view). `failed(error)` hears a read
 * that failed.
 *
 * One read at a time: a read asked for while one is on its way runs once more after it
 * (the first may have been read before whatever made the second necessary); two reads in
 * flight would let the one that ends first stop the keeping of events, and the later
 * answer, possibly older, would then be shown with nothing replayed on top.
 */
export class SnapshotReplay {
  constructor({ show, apply, failed = () => {} }) {
    this.show = show;
    this.apply = apply;
    this.failed = failed;
    /** Events received since a view was asked for; `null` while none is on its way. */
    this.recent = null;
    /** The read on its way, if any. */
    this.reading = null;
    this.readAgain = false;
    this.closed = false;
  }

  /** A live event: applied at once, and kept for the view on its way, if one is. */
  event(event) {
    if (this.closed) return;
    this.recent?.push(event);
    this.apply(event);
  }

  /** A view will come by itself (the snapshot that follows a welcome): keep events till then. */
  expect() {
    if (!this.reading) this.recent = [];
  }

  /** Nothing will come by itself (a welcome that recovered what was missed). */
  forget() {
    if (!this.reading) this.recent = null;
  }

  /** A whole view arrived: shown, then the events kept since it was asked for. A read still
   * on its way keeps keeping them (its answer may be older than this view). */
  arrived(view) {
    if (this.closed) return;
    const recent = this.recent ?? [];
    if (!this.reading) this.recent = null;
    this.show(view);
    for (const event of recent) this.apply(event);
  }

  /** Read a whole view with `read()` (a promise of it) and show it with the events received
   * meanwhile; resolves once this read and any asked for meanwhile are done. */
  async read(read) {
    if (this.closed) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.recent = [];
    this.reading = read();
    let view;
    try {
      view = await this.reading;
    } catch (error) {
      this.recent = null;
      this.reading = null;
      if (!this.closed) this.failed(error);
      return this.again(read);
    }
    this.reading = null;
    this.arrived(view);
    return this.again(read);
  }

  again(read) {
    if (!this.readAgain) return undefined;
    this.readAgain = false;
    return this.read(read);
  }

  /** The page stopped showing this view: nothing more is shown or applied. */
  close() {
    this.closed = true;
    this.recent = null;
  }
}
