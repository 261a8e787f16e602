// One map's live connection: the map's namespace through the wsns client, what the page
// should say about it, and the frames that change the map's state.
import { connect } from "/wsns/client.js";
import { api } from "./api.js";
import { SnapshotReplay } from "./replay.js";
import { signedOut, wsToken } from "./tokens.js";

// `?transport=sse` (or `websocket`) on the page's first URL forces the wsns transport, so the
// e2e suite can run the demo over both; read once, as in-app navigation drops the query.
const ASKED_TRANSPORT = new URLSearchParams(location.search).get("transport");
const FORCED_TRANSPORT = ["websocket", "sse"].includes(ASKED_TRANSPORT) ? ASKED_TRANSPORT : "auto";

/** What the page shows for each connection state: badge text, and the reason actions are
 * paused (null when live). `data-state` values are the keys. */
export const STATUS = {
  connecting: { badge: "connecting…", reason: "Connecting…" },
  live: { badge: "live", reason: null },
  reconnecting: { badge: "reconnecting…", reason: "Reconnecting… Editing is paused until the connection is back." },
  denied: { badge: "no access", reason: "No access" },
  "signed-out": { badge: "signed out", reason: "Signed out" },
  deleted: { badge: "map deleted", reason: "Map deleted" },
  offline: { badge: "offline", reason: "Offline: the connection was closed. Reload the page to try again." },
};

/** Why a map cannot be shown at all: overlay title and text, by reason. */
export const DENIALS = {
  unauthenticated: ["You are signed out", "Sign in again to open this map."],
  forbidden: ["No access", "This map is private. Ask its owner to invite you."],
  not_found: ["Map not found", "This map does not exist (any more)."],
  removed: ["This map was deleted", "Its owner deleted it. Nothing here can be edited any more."],
};

/**
 * The map's namespace. `handlers`: `view(view)` for a snapshot or a re-fetch (the frames
 * received meanwhile are replayed on top of it through `event`), `event({bubble} | {deleted})`,
 * `status(state, denial)` with a `STATUS` key and, when the map cannot be shown, why
 * (a `DENIALS` key, or another reason the client gave), `presence(members)` with who is on
 * the map (client id → `{name, color, editing}`), `map(map)` when the map itself changed.
 */
export class MapConnection {
  constructor(mapId, handlers) {
    this.mapId = mapId;
    this.handlers = handlers;
    this.replay = new SnapshotReplay({
      show: (view) => handlers.view(view),
      apply: (event) => handlers.event(event),
      failed: (error) => this.refetchFailed(error),
    });
    // The bubble this page has selected, and the one this connection told the others:
    // each new connection starts with none shown (presence starts afresh).
    this.selected = null;
    this.shown = null;
    this.ns = connect(`/api/1/ws/bubblemap/${mapId}`, { token: wsToken, transport: FORCED_TRANSPORT });
    this.ns.on("state", (state, detail) => this.onState(state, detail));
    // A snapshot follows the welcome, unless the missed frames do (recovered: true).
    this.ns.on("welcome", (welcome) => {
      if (welcome?.recovered === true) this.replay.forget();
      else this.replay.expect();
      this.shown = null;
      this.share();
    });
    this.ns.on("presence", (members) => handlers.presence(members));
    // The map itself changed (renamed, a member added); the header keeps the newest revision.
    this.ns.on("map-updated", (map) => handlers.map(map));
    this.ns.on("snapshot", (view) => this.replay.arrived(view));
    this.ns.on("resync", () => this.refetch());
    this.ns.on("bubble-created", (bubble) => this.replay.event({ bubble }));
    this.ns.on("bubble-updated", (bubble) => this.replay.event({ bubble }));
    this.ns.on("bubble-deleted", ({ id }) => this.replay.event({ deleted: id }));
    // Sent through the server's outbox: reaches the page even if the deleting instance died
    // before it could close the map's connections (4410).
    this.ns.on("map-deleted", () => {
      this.ns.close();
      handlers.status("deleted", "removed");
    });
    handlers.status("connecting", null);
  }

  get live() {
    return this.ns.state === "open";
  }

  /** This page's own client id (to leave its own selection out of the others'). */
  get clientId() {
    return this.ns.clientId;
  }

  /** Tell everyone on the map which bubble this page has selected (`null`: none); sent
   * again after each new connection's welcome. */
  select(bubbleId) {
    this.selected = bubbleId ?? null;
    this.share();
  }

  share() {
    if (!this.live || this.shown === this.selected) return;
    this.shown = this.selected;
    this.ns.send("editing", { bubble: this.selected });
  }

  request(type, data) {
    return this.ns.request(type, data, { timeout: 10000 });
  }

  close() {
    this.replay.close();
    this.ns.close();
  }

  refetch() {
    return this.replay.read(() => api("GET", `/api/1/maps/${this.mapId}`));
  }

  refetchFailed(error) {
    if (error.status === 404) this.handlers.status("deleted", "removed");
    else if (error.status === 401) this.handlers.status("signed-out", "unauthenticated");
  }

  onState(state, detail) {
    if (state === "open") this.handlers.status("live", null);
    else if (signedOut(state, detail)) this.handlers.status("signed-out", "unauthenticated");
    else if (state === "denied") this.handlers.status("denied", detail?.reason || "denied");
    else if (state === "closed" && detail?.reason === "removed") this.handlers.status("deleted", "removed");
    else if (state === "closed") this.handlers.status("offline", null);
    else this.handlers.status(state, null);
  }
}
