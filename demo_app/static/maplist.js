// The map list: one card per map the user may open, kept live, and the form that creates
// a map.
//
// The page listens to the map lists the session names (`me.map_lists`: the public one and
// the user's own, for private maps) and reads the first page of `GET /api/1/maps` (the
// newest maps) after each welcome that did not recover what it missed; "Show older maps"
// reads the next page (`next`), on top of what is shown. Cards may arrive twice or late
// (the server's outbox publishes at least once), so the page keeps, per map, the card with
// the highest `revision`, and never brings back a map it saw removed (map ids are never
// reused).
import { connect } from "/wsns/client.js";
import { api } from "./api.js";
import { $, el } from "./dom.js";
import { SnapshotReplay } from "./replay.js";
import { signedOut, wsToken } from "./tokens.js";
import { ago, RELATIVE_TIME_REFRESH } from "./when.js";

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** "bob", "bob and zoe", "bob, zoe and 3 more". */
export function names(list, shown = 2) {
  if (list.length <= shown + 1) return list.join(", ").replace(/, ([^,]*)$/, " and $1");
  return `${list.slice(0, shown).join(", ")} and ${list.length - shown} more`;
}

export function mapCard(map, me) {
  const mine = map.owner === me.name;
  const facts = [plural(map.bubble_count ?? 0, "bubble")];
  if (map.private) facts.push(map.members.length ? `with ${names(map.members)}` : "only the owner");
  const changed = map.changed_at ? el("time", { dateTime: new Date(map.changed_at * 1000).toISOString(),
    title: new Date(map.changed_at * 1000).toLocaleString(), "data-testid": "map-changed" },
  `changed ${ago(map.changed_at)}`) : "";
  const card = el("a", { class: "map-card", href: `/maps/${map.id}`, "data-link": "" },
    el("span", { class: "map-card-title" }, map.title),
    el("span", { class: "map-card-meta" },
      el("span", { class: `tag ${map.private ? "" : "public"}` }, map.private ? "Private" : "Public"),
      el("span", { class: "muted" }, mine ? "by you" : `by ${map.owner}`)),
    el("span", { class: "map-card-facts muted", "data-testid": "map-facts" }, facts.join(" · ")),
    el("span", { class: "map-card-facts muted" }, changed));
  if (map.members.length) card.title = `Members: ${map.members.join(", ")}`;
  return el("li", { "data-testid": "map-item", "data-map-id": String(map.id),
    "data-revision": String(map.revision ?? 0) }, card);
}

/** The cards a page shows, by the revision rule. No DOM here. */
export class CardState {
  constructor() {
    /** @type {Map<number, object>} map id → the card with the highest revision seen */
    this.byId = new Map();
    /** @type {Set<number>} maps seen removed */
    this.removed = new Set();
  }

  /** A card from a frame; false when it was ignored (older, or its map is gone). */
  put(card) {
    const current = this.byId.get(card.id);
    if (this.removed.has(card.id) || (current && current.revision >= card.revision)) return false;
    this.byId.set(card.id, card);
    return true;
  }

  remove(id) {
    this.removed.add(id);
    return this.byId.delete(id);
  }

  /** The first page of `GET /api/1/maps` as read: a map it lacks, as new as its oldest
   * card or newer (any map when `complete`: there is no older page), is gone or no longer
   * shown to this user; older cards (shown by "Show older maps") stay. The caller
   * replays the frames received meanwhile afterwards. */
  replace(cards, complete) {
    const listed = new Set(cards.map((card) => card.id));
    const oldest = complete ? 0 : Math.min(...listed);
    for (const id of [...this.byId.keys()]) if (id >= oldest && !listed.has(id)) this.byId.delete(id);
    for (const card of cards) this.put(card);
  }

  /** An older page: its cards join the list (the revision rule still applies). */
  add(cards) {
    for (const card of cards) this.put(card);
  }

  /** Newest map first. */
  sorted() {
    return [...this.byId.values()].sort((a, b) => b.id - a.id);
  }
}

/** The list view while it shows: `onSignedOut()` when the session is gone. `close()` stops
 * listening. */
export class MapListView {
  constructor(me, { onSignedOut }) {
    this.me = me;
    this.onSignedOut = onSignedOut;
    this.cards = new CardState();
    this.replay = new SnapshotReplay({
      show: (page) => this.showFirstPage(page),
      apply: (event) => this.apply(event),
      failed: (error) => this.readFailed(error),
    });
    /** The URL of the next older page; `null` once every page was read. */
    this.next = null;
    /** Whether "Show older maps" read a page: a re-read of the first page keeps `next`. */
    this.paged = false;
    document.title = "bubblemap";
    $("list-error").textContent = "";
    $("map-list").replaceChildren();
    $("map-list").dataset.state = "connecting";
    this.lists = (me.map_lists || []).map((path) => this.listen(path));
    this.clock = setInterval(() => this.render({ all: true }), RELATIVE_TIME_REFRESH);
    this.more = () => this.readOlder();
    $("map-list-more").addEventListener("click", this.more);
    this.reread();
  }

  listen(path) {
    const ns = connect(path, { token: wsToken });
    // A welcome that recovered is followed by what was missed; any other may have missed
    // something (first connect, new epoch): read the list again.
    ns.on("welcome", (welcome) => { if (welcome?.recovered !== true) this.reread(); });
    ns.on("resync", () => this.reread());
    ns.on("map-card", (card) => this.event({ card }));
    ns.on("map-removed", ({ id }) => this.event({ removed: id }));
    ns.on("state", (state, detail) => {
      if (signedOut(state, detail)) this.onSignedOut();
      else this.updateState();
    });
    return ns;
  }

  close() {
    this.replay.close();
    clearInterval(this.clock);
    $("map-list-more").removeEventListener("click", this.more);
    for (const ns of this.lists) ns.close();
  }

  updateState() {
    const live = this.lists.every((ns) => ns.state === "open");
    $("map-list").dataset.state = live ? "live" : "connecting";
  }

  event(event) {
    this.replay.event(event);
    this.render();
  }

  apply({ card, removed }) {
    if (removed !== undefined) this.cards.remove(removed);
    else this.cards.put(card);
  }

  /** Read the first page of `GET /api/1/maps` (the frames received meanwhile are replayed
   * on top of it; a call made while one is on its way reads once more after it). */
  async reread() {
    await this.replay.read(() => api("GET", "/api/1/maps"));
    if (!this.replay.closed) this.render({ all: true });
  }

  showFirstPage(page) {
    this.cards.replace(page.maps, page.next === null);
    // Older pages already shown stay, and so does the cursor past them.
    if (!this.paged || page.next === null) this.next = page.next;
    $("list-error").textContent = "";
  }

  readFailed(error) {
    if (error.status === 401) this.onSignedOut();
    else $("list-error").textContent = error.message;
  }

  /** "Show older maps": the next page's cards join the list. */
  async readOlder() {
    const button = $("map-list-more");
    if (this.next === null || button.disabled) return;
    button.disabled = true;
    try {
      const page = await api("GET", this.next);
      this.cards.add(page.maps);
      this.next = page.next;
      this.paged = true;
      $("list-error").textContent = "";
    } catch (error) {
      if (error.status === 401) return this.onSignedOut();
      $("list-error").textContent = error.message;
    } finally {
      button.disabled = false;
    }
    this.render({ all: true });
  }

  /** Draw the cards newest first; only a card whose revision changed is redrawn (`all`:
   * every card, for the relative times), so a focused card keeps the focus. */
  render({ all = false } = {}) {
    const list = $("map-list");
    const shown = new Map([...list.children].map((node) => [Number(node.dataset.mapId), node]));
    const wanted = this.cards.sorted().map((card) => {
      const old = shown.get(card.id);
      if (old && !all && old.dataset.revision === String(card.revision ?? 0)) return old;
      const node = mapCard(card, this.me);
      if (old) {
        const focused = old.contains(document.activeElement);
        old.replaceWith(node);
        if (focused) node.querySelector("a").focus();
      }
      return node;
    });
    const keep = new Set(wanted);
    for (const node of [...list.children]) if (!keep.has(node)) node.remove();
    wanted.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
    $("map-list-empty").hidden = wanted.length > 0 || this.replay.reading !== null;
    $("map-list-more").hidden = this.next === null;
  }
}

export function bindNewMapForm({ open, onSignedOut }) {
  $("new-map-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const map = await api("POST", "/api/1/maps", {
        title: $("new-map-title").value.trim(),
        private: $("new-map-private").checked,
      });
      $("new-map-title").value = "";
      open(`/maps/${map.id}`);
    } catch (error) {
      if (error.status === 401) return onSignedOut();
      $("list-error").textContent = error.message;
    }
  });
}
