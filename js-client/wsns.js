/**
 * sanic-wsns browser client: one WebSocket connection per namespace (wire protocol v1.1).
 *
 * One ES module, no dependencies, no build step. Served by the extension at
 * `/wsns/client.js` by default, and installable with npm (`npm install ./js-client`):
 *
 *     import { connect } from "/wsns/client.js";
 *     const ns = connect("/api/1/ws/bubblemap/42", { query: async () => ({ token: await getToken() }) });
 *     ns.on("bubble-created", (bubble) => draw(bubble));
 *     ns.on("resync", () => refetchEverything());
 *     ns.on("presence", (members) => showAvatars([...members.values()]));
 *     const bubble = await ns.request("bubble-create", { x: 1, y: 2, text: "hi", color: "#ff0000" });
 *
 * What it survives: the server restarting or going away (reconnect with exponential backoff
 * and full jitter, at once on the browser's `online` event), a connection that died without
 * the browser noticing (app-level ping/pong heartbeat), a handshake that hangs (connect
 * timeout, an expired token: 4001). What stops it for good: `close()`, a denial
 * (4401/4403/4404 and any other 44xx), a `token` function that fails,
 * the namespace being removed (4410), a normal close by the server (1000), a policy
 * violation (1008), and `maxAttempts` failed attempts in a row.
 *
 * Recovery (v1.1): in a namespace with history every broadcast carries an `offset`. The
 * client remembers the last one and the `epoch` and reconnects with `?since=&epoch=`; the
 * frames it missed then arrive as ordinary events, and a frame whose offset it already has is
 * dropped. The app sees `resync` only when it must re-fetch: the server could not recover
 * (it sends `resync` with a `reason`), or the namespace keeps no history (every reconnect).
 * The `resync` listeners run after a random delay of up to `resyncJitter` ms (default 3 s),
 * so that a thousand pages told at once do not re-fetch in the same millisecond.
 *
 * Transports (v1.2): frames travel over a WebSocket, or over a Server-Sent Events stream
 * plus one POST per frame to the server (`transport: "sse"`), for networks whose proxies
 * strip the upgrade. The default, "auto", tries the WebSocket and falls back to SSE after two
 * attempts that never opened, remembered for the tab. A transport is a small object the
 * namespace drives (`WebSocketTransport`, `SseTransport`): nothing else knows which it is.
 *
 * The module is organised like phoenix.js: a `Namespace` that wires small parts with one job
 * each (`Backoff`, `SendQueue`, `PendingRequests`, `Heartbeat`, `OffsetTracker`,
 * `PresenceState`). The parts are pure or own nothing but their timers; they are not
 * exported (the client's own tests reach them through test/internals.js).
 *
 * @module wsns
 */

/* The public types are declared once, in wsns.d.ts; this file's JSDoc refers to them, and
 * `tsc` checks this file against them (tsconfig.checkjs.json, test/types-conformance.ts). */
/** @typedef {import("./wsns.js").State} State */
/** @typedef {import("./wsns.js").StateDetail} StateDetail */
/** @typedef {import("./wsns.js").BackoffOptions} BackoffOptions */
/** @typedef {import("./wsns.js").HeartbeatOptions} HeartbeatOptions */
/** @typedef {import("./wsns.js").QueryParams} QueryParams */
/** @typedef {import("./wsns.js").ConnectOptions} ConnectOptions */
/** @typedef {import("./wsns.js").RequestOptions} RequestOptions */
/** @typedef {import("./wsns.js").Frame} Frame */
/** @typedef {import("./wsns.js").Position} Position */
/** @typedef {import("./wsns.js").PresenceChange} PresenceChange */
/** @typedef {import("./wsns.js").Welcome} Welcome */

/**
 * The error `send` throws and `request` rejects with.
 *
 * `code` is a protocol error code from the server (`invalid_data`, `conflict`, `not_found`,
 * `unknown_type`, `rate_limited`, `internal`...) or a client code: `timeout` (no reply in
 * time), `disconnected` (the connection dropped after a request made with `retry: false` was
 * sent: it may or may not have been handled), `closed` (the connection is closed or denied for good),
 * `queue_full` (too many messages held while not open), `too_big` (over the server's
 * `max_frame_size`).
 */
export class WsnsError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {*} [details]  the server's `details`, or the `StateDetail` for `closed`
   */
  constructor(code, message, details) {
    super(message);
    this.name = "WsnsError";
    /** @type {string} */
    this.code = code;
    /** @type {*} */
    this.details = details;
  }
}

const DENIALS = { 4401: "unauthenticated", 4403: "forbidden", 4404: "not_found" };
const FINAL_CLOSES = { 1000: "server_closed", 1008: "policy_violation", 4410: "removed" };
// Events the client emits itself; a server frame of one of these types is not delivered.
const OWN_EVENTS = new Set(["state", "welcome", "resync", "presence"]);
const RESERVED_QUERY = ["since", "epoch"];
const ABNORMAL = 1006;
const TRY_AGAIN_LATER = 1013;
// The server's hint at the end of a 1013's reason (docs/protocol.md): whole seconds.
const RETRY_AFTER = /(?:^|; )retry_after=(\d{1,6})$/;
// An SSE stream refused with an HTTP status: the close code a WebSocket would have got.
const STATUS_CLOSES = { 400: 1008, 401: 4401, 403: 4403, 404: 4404, 429: 1013, 503: 1013 };
// A 401 whose code is "expired": the token ran out, reconnect with a fresh one (as 4001).
const EXPIRED = 4001;
const TRANSPORTS = ["auto", "websocket", "sse"];
// "auto" gives up on the WebSocket after this many attempts that never opened.
const FALLBACK_AFTER = 2;
const TRANSPORT_KEY = "wsns.transport";
const CONNECTING = "connecting";
const OPEN = "open";
const RECONNECTING = "reconnecting";
const CLOSED = "closed";
const DENIED = "denied";

// -- parts -------------------------------------------------------------------------------

/**
 * Reconnect delays with exponential growth and full jitter: attempt `n` waits a random time
 * in [0, min(max, base * factor ** n)). The count starts again from 0 once a connection has
 * stayed open `stableAfter` ms, so a server that welcomes then drops at once is not hammered.
 * @internal
 */
class Backoff {
  /**
   * @param {BackoffOptions} [options]
   * @param {{stableAfter?: number, random?: () => number, now?: () => number}} [env]
   */
  constructor({ base = 500, max = 20000, factor = 2 } = {}, { stableAfter = 10000, random = Math.random, now = Date.now } = {}) {
    this.base = base;
    this.max = max;
    this.factor = factor;
    this.stableAfter = stableAfter;
    this.random = random;
    this.now = now;
    /** Failed attempts since the last stable connection. */
    this.failures = 0;
    /** @type {number | null} when the current connection was welcomed */
    this.openedAt = null;
  }

  /**
   * The delay before the next attempt, in ms; counts the attempt as failed. `notBefore`:
   * the server's retry hint (ms), added to the jitter so that clients refused together
   * come back spread over the window after it, not at its end.
   */
  next(notBefore = 0) {
    const cap = Math.min(this.max, this.base * this.factor ** this.failures);
    this.failures += 1;
    return notBefore + Math.floor(this.random() * cap);
  }

  /** Start again from the first delay. */
  reset() {
    this.failures = 0;
  }

  /** A connection was welcomed. */
  opened() {
    this.openedAt = this.now();
  }

  /** A welcomed connection ended: reset when it was stable. */
  closed() {
    if (this.openedAt !== null && this.now() - this.openedAt >= this.stableAfter) this.reset();
    this.openedAt = null;
  }
}

/**
 * Messages written while not open, sent in order once open again. Bounded, so a page that
 * keeps sending while offline learns it (`queue_full`) instead of growing without end.
 * @internal
 */
class SendQueue {
  /** @param {number} limit */
  constructor(limit) {
    this.limit = limit;
    /** @type {{text: string, id?: number}[]} */
    this.items = [];
  }

  /**
   * @param {string} text  the encoded frame
   * @param {number} [id]  the request id, when it is a request
   * @throws {WsnsError} `queue_full`
   */
  push(text, id) {
    if (this.items.length >= this.limit) {
      throw new WsnsError("queue_full", `more than ${this.limit} messages waiting to be sent`);
    }
    this.items.push(id === undefined ? { text } : { text, id });
  }

  /** Forget a held request (it timed out before it could be sent). */
  remove(id) {
    this.items = this.items.filter((item) => item.id !== id);
  }

  /**
   * Put requests back at the head of the queue, before anything held since (they were
   * accepted before it); not bounded by `limit`, they were counted when first sent.
   * @param {{text: string, id: number}[]} items
   */
  requeue(items) {
    this.items = [...items, ...this.items];
  }

  /** Everything held, in order; the queue is empty afterwards. */
  drain() {
    const items = this.items;
    this.items = [];
    return items;
  }
}

/**
 * Requests waiting for their reply: ids, timeouts, and what a dropped connection does to
 * those already written (sent again when keyed, else failed); all fail when it ends for good.
 * @internal
 */
class PendingRequests {
  /** @param {(id: number) => void} [onTimeout]  cleanup after a request timed out */
  constructor(onTimeout = () => {}) {
    this.onTimeout = onTimeout;
    /** @type {Map<number, {resolve: Function, reject: Function, timer: any, sent: boolean, resend?: string}>} */
    this.entries = new Map();
    this.lastId = 0;
  }

  get size() {
    return this.entries.size;
  }

  /** A fresh request id (positive, never reused by this connection). */
  nextId() {
    return ++this.lastId;
  }

  /**
   * Wait for the reply to request `id`.
   * @param {number} id
   * @param {{timeout: number, sent: boolean, what: string, resend?: string}} how  timeout in
   *   ms (0 or Infinity: none); `sent` when it is already written to a socket; `what` names it
   *   in the timeout error; `resend`, the keyed frame to send again after a drop
   * @returns {Promise<*>}
   */
  track(id, { timeout, sent, what, resend }) {
    return new Promise((resolve, reject) => {
      const entry = { resolve, reject, timer: null, sent, resend };
      if (timeout > 0 && timeout < Infinity) {
        entry.timer = setTimeout(() => {
          this.entries.delete(id);
          this.onTimeout(id);
          reject(new WsnsError("timeout", `no reply to ${what} within ${timeout} ms`));
        }, timeout);
      }
      this.entries.set(id, entry);
    });
  }

  /** Request `id` has been written to a socket. */
  markSent(id) {
    const entry = this.entries.get(id);
    if (entry) entry.sent = true;
  }

  /** Settle request `id` with its reply; false when it is not waiting (it timed out). */
  resolve(id, data) {
    const entry = this.take(id);
    if (entry) entry.resolve(data);
    return entry !== undefined;
  }

  /** Fail request `id`; false when it is not waiting. */
  reject(id, error) {
    const entry = this.take(id);
    if (entry) entry.reject(error);
    return entry !== undefined;
  }

  /**
   * The connection dropped: the keyed requests written to it are to be sent again (returned,
   * in order, as not sent); the others written to it fail with `error`. Held ones wait.
   * @returns {{text: string, id: number}[]}
   */
  dropped(error) {
    const again = [];
    for (const [id, entry] of this.entries) {
      if (!entry.sent) continue;
      if (entry.resend === undefined) {
        this.reject(id, error);
      } else {
        entry.sent = false;
        again.push({ text: entry.resend, id });
      }
    }
    return again;
  }

  /** The connection ended for good: fail every request. */
  rejectAll(error) {
    for (const id of [...this.entries.keys()]) this.reject(id, error);
  }

  take(id) {
    const entry = this.entries.get(id);
    if (entry) {
      this.entries.delete(id);
      clearTimeout(entry.timer);
    }
    return entry;
  }
}

/**
 * App-level ping/pong: finds a connection that died without the browser noticing. Any frame
 * proves the connection alive; a ping with no frame within `timeout` calls `dead`.
 * @internal
 */
class Heartbeat {
  /**
   * @param {HeartbeatOptions | false} options  `false`: never pings
   * @param {{ping: (n: number) => void, dead: (message: string) => void}} hooks
   */
  constructor(options, { ping, dead }) {
    this.options = options;
    this.hooks = { ping, dead };
    this.interval = 20000;
    this.unprompted = 0;
    this.pings = 0;
    this.pingTimer = null;
    this.deadTimer = null;
  }

  /**
   * A connection was welcomed; `serverInterval` is its `heartbeat_interval` in seconds.
   * `pingable` false: the transport cannot ask for an answer (an SSE stream), and the server's
   * own `: ping` comment, sent every `serverInterval`, is what proves it alive; so the wait
   * after a check grows by that interval.
   */
  start(serverInterval, pingable = true) {
    if (this.options === false) return;
    const served = serverInterval > 0 ? serverInterval * 1000 : 20000;
    this.interval = this.options.interval ?? served;
    this.unprompted = pingable ? 0 : served;
    this.pingTimer = setTimeout(() => this.check(), this.interval);
  }

  /** A frame arrived. */
  alive() {
    clearTimeout(this.deadTimer);
    this.deadTimer = null;
  }

  /** Ping now (the page woke up), unless a ping is already waiting for its answer. */
  check() {
    if (this.options === false || this.deadTimer !== null) return;
    clearTimeout(this.pingTimer);
    const timeout = (this.options.timeout ?? Math.min(this.interval, 10000)) + this.unprompted;
    this.hooks.ping(++this.pings);
    this.deadTimer = setTimeout(() => this.hooks.dead(`no answer within ${timeout} ms`), timeout);
    this.pingTimer = setTimeout(() => this.check(), this.interval);
  }

  stop() {
    clearTimeout(this.pingTimer);
    clearTimeout(this.deadTimer);
    this.pingTimer = this.deadTimer = null;
  }
}

/**
 * The last offset and the epoch of a history namespace (wire protocol v1.1): what to ask for
 * on reconnect, which frames are duplicates, and when the app must re-fetch on its own.
 * @internal
 */
class OffsetTracker {
  constructor() {
    /** @type {number | null} */
    this.offset = null;
    /** @type {string | null} */
    this.epoch = null;
  }

  /** @returns {Position | null} */
  get position() {
    return this.epoch === null || this.offset === null ? null : { offset: this.offset, epoch: this.epoch };
  }

  /** The recovery parameters for the next upgrade URL: `{since, epoch}`, or `{}`. */
  query() {
    const position = this.position;
    return position ? { since: String(position.offset), epoch: position.epoch } : {};
  }

  /**
   * Take a connection's `welcome` data.
   * @param {*} welcome
   * @param {boolean} reconnected  an earlier connection of this namespace was welcomed
   * @returns {boolean} whether the app must re-fetch without being told by the server: a
   *   reconnect that could not ask for recovery (no history, or a v1 server). When the server
   *   answered the request (`recovered` true or false) it is the server's call: false is
   *   followed by its own `resync` frame.
   */
  welcome(welcome, reconnected) {
    const position = welcome?.position;
    const recovered = welcome?.recovered;
    if (isPosition(position)) {
      // Recovered: the missed frames (our offset + 1 ...) follow, keep our offset to take them.
      if (recovered !== true || this.offset === null || this.epoch !== position.epoch) this.offset = position.offset;
      this.epoch = position.epoch;
    } else {
      this.offset = this.epoch = null;
    }
    return reconnected && typeof recovered !== "boolean";
  }

  /**
   * A server `resync` that says where delivery goes on from (a new epoch restarts the
   * offsets at 1: keeping the old offset would drop every new frame as a duplicate).
   * @param {*} position
   */
  moved(position) {
    if (!isPosition(position)) return;
    this.offset = position.offset;
    this.epoch = position.epoch;
  }

  /**
   * A server frame: false when its offset is one already seen (a duplicate to drop).
   * @param {Frame} frame
   */
  accept(frame) {
    const offset = frame.offset;
    if (!Number.isInteger(offset)) return true;
    if (this.offset !== null && offset <= this.offset) return false;
    this.offset = offset;
    return true;
  }
}

/**
 * Who is in the namespace (wire protocol v1.1): a live `Map` of client id → public identity,
 * replaced by each `presence_state` and changed by each `presence_diff`.
 * @internal
 */
class PresenceState {
  constructor() {
    /** @type {Map<string, *>} the same Map for the connection's whole life */
    this.members = new Map();
    /** Whether the last state was cut at the server's limit (some members are missing). */
    this.truncated = false;
  }

  /**
   * A full state (on every connect): replaces the members.
   * @param {*} entries  `{client_id: public}`
   * @param {boolean} truncated
   * @returns {PresenceChange} what changed since the members held before
   */
  reset(entries, truncated) {
    const next = objectOrEmpty(entries);
    const joins = {};
    const leaves = {};
    for (const [id, identity] of this.members) if (!Object.hasOwn(next, id)) leaves[id] = identity;
    for (const [id, identity] of Object.entries(next)) if (!this.members.has(id)) joins[id] = identity;
    this.members.clear();
    for (const [id, identity] of Object.entries(next)) this.members.set(id, identity);
    this.truncated = truncated;
    return { joins, leaves };
  }

  /**
   * A diff: joins first, then leaves, so a client that came and went within one diff ends
   * up absent.
   * @param {*} diff  `{joins: {client_id: public}, leaves: {client_id: public}}`
   * @returns {PresenceChange}
   */
  apply(diff) {
    const joins = objectOrEmpty(diff?.joins);
    const leaves = objectOrEmpty(diff?.leaves);
    for (const [id, identity] of Object.entries(joins)) this.members.set(id, identity);
    for (const id of Object.keys(leaves)) this.members.delete(id);
    return { joins, leaves };
  }
}

// -- transports --------------------------------------------------------------------------
//
// A transport carries one attempt's frames. The namespace drives it through four calls
// (`send`, `ping`, `writable`, `close`) and hears from it through hooks (`frame`, `alive`,
// `closed`, as a WebSocket's close code). `opened` says whether the server accepted the
// attempt at all (a WebSocket's `open`, an SSE response with status 200): "auto" counts
// the WebSocket attempts that never opened to decide on SSE.

/**
 * @typedef {object} TransportHooks
 * @property {(frame: Frame) => void} frame  a frame from the server
 * @property {() => void} alive  bytes that are no frame arrived (an SSE comment)
 * @property {(code: number, message: string) => void} closed  the transport ended on its own
 */

/** Frames over one WebSocket. @internal */
class WebSocketTransport {
  /**
   * @param {string} url
   * @param {string[] | null} protocols
   * @param {TransportHooks} hooks
   */
  constructor(url, protocols, hooks) {
    this.name = "websocket";
    /** The server answers a `ping` frame with `pong`, and a `refresh` request with a new expiry. */
    this.pingable = true;
    this.refreshes = true;
    this.opened = false;
    this.ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
    this.ws.onopen = () => { this.opened = true; };
    this.ws.onmessage = (event) => {
      const frame = parseFrame(event.data);
      if (frame) hooks.frame(frame);
    };
    this.ws.onclose = (event) => hooks.closed(event.code, event.reason);
  }

  send(text) {
    this.ws.send(text);
  }

  ping(n) {
    this.ws.send(JSON.stringify({ type: "ping", data: n }));
  }

  /** The socket has not started closing (a write then would be lost silently). */
  writable() {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(code, reason) {
    this.ws.onopen = this.ws.onmessage = this.ws.onclose = null;
    this.ws.close(code, reason);
  }
}

/**
 * Frames from a Server-Sent Events stream, frames to the server as POSTs (core idea 13).
 *
 * The stream is read with `fetch`, not `EventSource`: an `EventSource` cannot send the
 * `Authorization` header a `token` travels in, cannot tell a refusal (401/403/404: denied,
 * stop) from a network error, hides the server's `: ping` comments from the heartbeat, and
 * reconnects on its own where the namespace must drive its own backoff and recovery
 * (`since`/`epoch`, as on a WebSocket). A page with no SDK uses `EventSource` and
 * `Last-Event-ID` instead (docs/transports.md).
 *
 * The server ends a stream as it would close a WebSocket: an `event: close` with the code and
 * reason, then the end of the response; the namespace hears that code.
 *
 * POSTs go one at a time, in order (a WebSocket keeps the order of frames; parallel POSTs
 * may reach two instances and be handled out of order). Each answers with the reply and
 * the frames the handler sent to this client; they are handed on as if they came on the
 * stream. A POST that fails on the network or with a 5xx (the instance behind the proxy
 * died) ends the transport like a dropped WebSocket: keyed requests are sent again after the
 * reconnect. A 401 ends it as a 4001 would (the attempt's token ran out: reconnect with a
 * fresh one). Another 4xx is the server's answer: an `error` frame for that request.
 * @internal
 */
class SseTransport {
  /**
   * @param {string} streamUrl  the GET, with the recovery parameters
   * @param {string} postUrl
   * @param {{token?: string | null, postTimeout: number}} how  the token goes as
   *   `Authorization: Bearer`; a POST unanswered after `postTimeout` ms (0: never) ends the
   *   transport as a failed one does: later frames wait behind it, it must not hold them
   * @param {TransportHooks} hooks
   */
  constructor(streamUrl, postUrl, { token, postTimeout }, hooks) {
    this.name = "sse";
    /** A stream cannot answer a ping: the server's comments prove it alive. */
    this.pingable = false;
    /** A stream has no `refresh`: at expiry it ends with 4001, and the client comes back with a fresh token. */
    this.refreshes = false;
    this.opened = false;
    this.ended = false;
    this.hooks = hooks;
    this.postUrl = postUrl;
    this.postTimeout = postTimeout;
    this.authorization = token === null || token === undefined ? {} : { Authorization: `Bearer ${token}` };
    /** `welcome.data.client_token`: names this stream's client in every POST. */
    this.clientToken = null;
    this.aborter = new AbortController();
    this.posts = Promise.resolve();
    this._read(streamUrl);
  }

  send(text) {
    this.posts = this.posts.then(() => this._post(text));
  }

  ping() {}

  writable() {
    return this.opened && !this.ended;
  }

  close() {
    this.ended = true;
    this.aborter.abort();
  }

  async _read(url) {
    let response;
    try {
      response = await this._fetch(url, { headers: { Accept: "text/event-stream" } });
    } catch (error) {
      this._end(ABNORMAL, `the stream failed: ${errorText(error)}`);
      return;
    }
    if (!response.ok) {
      const body = await jsonOrNull(response);
      const code = body?.code === "expired" ? EXPIRED : STATUS_CLOSES[response.status] ?? ABNORMAL;
      this._end(code, body?.message ?? `HTTP ${response.status} on the stream`);
      return;
    }
    this.opened = true;
    const events = new EventStreamParser((data) => this._event(data), () => this.hooks.alive());
    try {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        events.feed(decoder.decode(value, { stream: true }));
      }
    } catch (error) {
      this._end(ABNORMAL, `the stream failed: ${errorText(error)}`);
      return;
    }
    this._end(ABNORMAL, "the stream ended");
  }

  _event(data) {
    const frame = parseFrame(data);
    if (!frame || this.ended) return;
    if (frame.type === "close") {
      // What a WebSocket's close frame says: the server ends the stream right after it.
      this._end(Number.isInteger(frame.data?.code) ? frame.data.code : ABNORMAL, String(frame.data?.reason ?? ""));
      return;
    }
    if (frame.type === "welcome") this.clientToken = frame.data?.client_token ?? null;
    this.hooks.frame(frame);
  }

  async _post(text) {
    if (this.ended) return; // lost, as a write to a closed socket: the drop re-sends keyed requests
    let response;
    let body;
    const late = this.postTimeout > 0 && this.postTimeout < Infinity
      ? setTimeout(() => this._end(ABNORMAL, `a POST got no answer within ${this.postTimeout} ms`), this.postTimeout)
      : null;
    try {
      response = await this._fetch(this.postUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Wsns-Client": this.clientToken ?? "" },
        body: text,
      });
      body = await jsonOrNull(response);
    } catch (error) {
      this._end(ABNORMAL, `a POST failed: ${errorText(error)}`);
      return;
    } finally {
      clearTimeout(late);
    }
    if (this.ended) return;
    if (response.status >= 500) {
      this._end(ABNORMAL, `a POST failed: HTTP ${response.status}`);
    } else if (response.status === 401) {
      // The attempt's token ran out before its stream did: as a 4001, come back with a fresh
      // one (keyed requests go again); signed out for good, the next attempt is refused.
      this._end(EXPIRED, body?.message ?? "a POST was refused as unauthenticated");
    } else if (response.ok) {
      for (const frame of Array.isArray(body?.frames) ? body.frames : []) this.hooks.frame(frame);
      if (body?.reply) this.hooks.frame(body.reply);
    } else {
      const id = parseFrame(text)?.id;
      const data = { code: body?.code ?? "invalid_message", message: body?.message ?? `HTTP ${response.status}` };
      this.hooks.frame(id == null ? { type: "error", data } : { type: "error", id, data });
    }
  }

  _fetch(url, init) {
    const headers = { ...init.headers, ...this.authorization };
    return fetch(url, { ...init, headers, cache: "no-store", credentials: "same-origin", signal: this.aborter.signal });
  }

  _end(code, message) {
    if (this.ended) return;
    this.close();
    this.hooks.closed(code, message);
  }
}

/**
 * The text/event-stream format, fed in chunks: calls `onData` with each event's data (its
 * `data:` lines joined by newlines) and `onComment` for each comment line. `event:` and
 * `id:` are not needed: the data is the whole frame, and recovery goes by its `offset`.
 * @internal
 */
class EventStreamParser {
  /**
   * @param {(data: string) => void} onData
   * @param {() => void} onComment
   */
  constructor(onData, onComment) {
    this.onData = onData;
    this.onComment = onComment;
    this.partial = "";
    /** @type {string[]} */
    this.data = [];
  }

  /** @param {string} chunk */
  feed(chunk) {
    const lines = (this.partial + chunk).split("\n");
    this.partial = lines.pop();
    for (const line of lines) this.line(line.endsWith("\r") ? line.slice(0, -1) : line);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onData(this.data.join("\n"));
      this.data = [];
    } else if (line.startsWith(":")) {
      this.onComment();
    } else if (line.startsWith("data:")) {
      this.data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
  }
}

/**
 * Which transport the next attempt uses. "auto" starts with the WebSocket (or with SSE when
 * this tab fell back before) and moves to SSE for good once `FALLBACK_AFTER` WebSocket
 * attempts never opened while none ever did; a WebSocket that opened once means the path
 * allows it, and later drops are only drops.
 * @internal
 */
class TransportChoice {
  /**
   * @param {"auto" | "websocket" | "sse"} mode
   * @param {Storage | null} storage  where the fallback is remembered (sessionStorage)
   */
  constructor(mode, storage) {
    if (!TRANSPORTS.includes(mode)) throw new TypeError(`transport must be one of ${TRANSPORTS.join(", ")}: ${mode}`);
    this.mode = mode;
    this.storage = storage;
    this.failures = 0;
    this.worked = false;
    /** @type {"websocket" | "sse"} */
    this.current = mode === "auto" ? (readStorage(storage) === "sse" ? "sse" : "websocket") : mode;
  }

  /** An attempt over `name` opened. */
  opened(name) {
    if (name === "websocket") this.worked = true;
  }

  /** An attempt over `name` ended without ever opening. */
  failed(name) {
    if (this.mode !== "auto" || name !== "websocket" || this.worked) return;
    this.failures += 1;
    if (this.failures < FALLBACK_AFTER) return;
    this.current = "sse";
    try {
      this.storage?.setItem(TRANSPORT_KEY, "sse");
    } catch {
      // storage refused (quota, privacy mode): the fallback holds for this connection only
    }
  }
}

function readStorage(storage) {
  try {
    return storage?.getItem(TRANSPORT_KEY) ?? null;
  } catch {
    return null;
  }
}

/** The tab's sessionStorage, or null where there is none or reading it throws. */
function tabStorage() {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

/** A frame from its JSON text, or null for anything that is not an object with a string `type`. */
function parseFrame(text) {
  let frame;
  try {
    frame = JSON.parse(text);
  } catch {
    return null; // the server only sends JSON; anything else is noise on the wire
  }
  return frame && typeof frame.type === "string" ? frame : null;
}

async function jsonOrNull(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * The URL of one attempt: `base` with the app's query (reserved names left out) and the
 * client's recovery parameters.
 * @param {string} base
 * @param {QueryParams | null | undefined} query
 * @param {Record<string, string>} recovery  `{since, epoch}` or `{}`
 */
function attemptUrl(base, query, recovery) {
  const url = new URL(base);
  for (const name of RESERVED_QUERY) url.searchParams.delete(name);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== null && value !== undefined && !RESERVED_QUERY.includes(name)) url.searchParams.set(name, String(value));
  }
  for (const [name, value] of Object.entries(recovery)) url.searchParams.set(name, value);
  return url.href;
}

/**
 * v1.2: what `Sec-WebSocket-Protocol` offers for `token`: `["wsns.v1", "wsns.token.<base64url>"]`
 * (UTF-8, no padding), or null without a token (nothing is offered).
 * @param {string | null | undefined} token
 * @returns {string[] | null}
 */
function subprotocols(token) {
  if (token === null || token === undefined) return null;
  const bytes = new TextEncoder().encode(String(token));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  const encoded = btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return ["wsns.v1", `wsns.token.${encoded}`];
}

/**
 * v1.2: seconds after a welcome (or a refresh) to send the next `refresh`: a
 * quarter of the lifetime before expiry, at most 30 s before.
 * @param {number} expiresIn  seconds
 * @returns {number} seconds
 */
/**
 * The wait (ms) the server asked for before the next attempt, 0 without one: only a 1013
 * whose reason ends with "; retry_after=N" carries it (an older server's reason has none,
 * and the plain backoff applies).
 * @param {number} code
 * @param {string | undefined} message
 * @returns {number}
 */
function retryHint(code, message) {
  const hint = code === TRY_AGAIN_LATER ? RETRY_AFTER.exec(message ?? "") : null;
  return hint ? Number(hint[1]) * 1000 : 0;
}

function refreshDelay(expiresIn) {
  return Math.max(0, expiresIn - Math.min(expiresIn / 4, 30));
}

/**
 * A random request key (v1.2): 128 bits, in the server's key alphabet.
 * @returns {string}
 */
function requestKey() {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// -- the namespace -----------------------------------------------------------------------

/**
 * Open a namespace. Every call makes a new, independent connection; one that was closed,
 * denied or gave up stays so, and calling `connect` again gives a fresh one.
 *
 * @param {string} path  a same-origin path such as "/api/1/ws/bubblemap/42"
 *   (ws:// or wss:// follows the page), or an absolute ws(s):// or http(s):// URL
 * @param {ConnectOptions} [options]
 * @returns {Namespace}
 * @throws {TypeError} when `path` does not make a ws:// or wss:// URL
 */
export function connect(path, options = {}) {
  return new Namespace(path, options);
}

/** A connection to one namespace. Create it with `connect`. */
export class Namespace {
  /**
   * @param {string} path
   * @param {ConnectOptions} [options]
   */
  constructor(path, options = {}) {
    /** The namespace path as given. */
    this.path = path;
    /** @type {string} the ws:// or wss:// URL, without the per-attempt query */
    this.url = socketUrl(path);
    /** @type {string} the http(s):// URL of the SSE stream and POSTs, without the per-attempt query */
    this.sseUrl = sseUrl(this.url, options.ssePrefix ?? "/wsns/sse");
    /** @type {State} */
    this.state = CONNECTING;
    /** @type {StateDetail | null} the last detail of `denied` or `closed`, else null */
    this.reason = null;
    /** @type {string | null} the server-assigned id, from the last `welcome` */
    this.clientId = null;
    /** @type {Welcome | null} the last `welcome` data */
    this.welcome = null;

    this._options = {
      maxAttempts: options.maxAttempts ?? Infinity,
      connectTimeout: options.connectTimeout ?? 10000,
      requestTimeout: options.requestTimeout ?? 10000,
      resyncJitter: options.resyncJitter ?? 3000,
      query: options.query,
      token: options.token,
    };
    /** @type {Map<string, Set<Function>>} */
    this._listeners = new Map();
    this._backoff = new Backoff(options.backoff, { stableAfter: options.stableAfter ?? 10000 });
    this._queue = new SendQueue(options.queueLimit ?? 100);
    this._pending = new PendingRequests((id) => this._queue.remove(id));
    this._heartbeat = new Heartbeat(options.heartbeat === false ? false : options.heartbeat || {}, {
      ping: (n) => this._attempt.transport.ping(n),
      dead: (message) => this._drop("heartbeat_timeout", message),
    });
    this._offsets = new OffsetTracker();
    this._presence = new PresenceState();
    this._transports = new TransportChoice(options.transport ?? "auto", tabStorage());
    // The current attempt: its transport (null while its query is computed), whether it was
    // welcomed, and the timer that gives up on it.
    this._attempt = null;
    this._timers = { retry: null, resync: null, refresh: null };

    this._onWake = (event) => {
      if (event.type === "online" || document.visibilityState === "visible") this._wake();
    };
    if (typeof window !== "undefined") window.addEventListener("online", this._onWake);
    if (typeof document !== "undefined") document.addEventListener("visibilitychange", this._onWake);
    this._open();
  }

  /**
   * v1.1: where this client is in a history namespace's stream (the last offset it has and
   * the epoch), sent as `since`/`epoch` on reconnect; null without history.
   * @returns {Position | null}
   */
  get position() {
    return this._offsets.position;
  }

  /**
   * v1.1: who is in the namespace, client id → public identity, on every instance (a
   * presence namespace only; empty otherwise). The same Map is kept up to date: replaced by
   * each connect's state, changed by each diff. It keeps its last content while reconnecting.
   * @returns {ReadonlyMap<string, *>}
   */
  get presence() {
    return this._presence.members;
  }

  /** v1.1: the last presence state was cut at the server's limit, so `presence` lacks members. */
  get presenceTruncated() {
    return this._presence.truncated;
  }

  /**
   * Listen to server frames of `type` (`fn(data, frame)`), or to the client's own events:
   * - `"state"`: `fn(state, detail)`;
   * - `"welcome"`: `fn(welcomeData, frame)`;
   * - `"resync"`: `fn(data, frame)`, the app must re-fetch its state: on a server `resync`
   *   frame (`data.reason` says why), and after a reconnect that could not recover (no
   *   history): `data = {reason: "reconnected"}`, `frame = null`. Called `resyncJitter` ms
   *   late at most (random); never after a successful recovery;
   * - `"presence"`: `fn(presence, change)` after every presence frame, with the live Map and
   *   `{joins, leaves}` (for a state: the difference with the members held before);
   * - `"error"`: `fn(errorData, frame)` for an error frame that answers no request.
   *
   * @param {string} type
   * @param {(...args: any[]) => void} fn
   * @returns {() => void} a function that removes this listener
   */
  on(type, fn) {
    let set = this._listeners.get(type);
    if (!set) this._listeners.set(type, (set = new Set()));
    set.add(fn);
    return () => this.off(type, fn);
  }

  /**
   * Remove a listener added with `on`.
   * @param {string} type
   * @param {(...args: any[]) => void} fn
   */
  off(type, fn) {
    const set = this._listeners.get(type);
    if (set && set.delete(fn) && set.size === 0) this._listeners.delete(type);
  }

  /**
   * Send a fire-and-forget message. While not open it is held (up to `queueLimit`) and sent,
   * in order, once the connection is open again. At most once: a message written to a
   * connection that then dies is lost.
   *
   * @param {string} type
   * @param {*} [data]
   * @throws {WsnsError} `queue_full`, `too_big`, or `closed` after close/denial
   */
  send(type, data) {
    this._assertUsable();
    const text = this._encode(type, data);
    if (this._writable()) this._attempt.transport.send(text);
    else this._queue.push(text);
  }

  /**
   * Send a request and wait for its reply. While not open the request is held like a `send`
   * (its timeout already runs).
   *
   * @param {string} type
   * @param {*} [data]
   * @param {RequestOptions} [options]
   * @returns {Promise<*>} the reply's data
   * @throws {WsnsError} (rejection) with the server's error code, or `timeout`,
   *   `disconnected`, `closed`, `queue_full`, `too_big`
   */
  request(type, data, options = {}) {
    try {
      this._assertUsable();
      const id = this._pending.nextId();
      const retry = options.retry ?? true;
      const text = this._encode(type, data, id, retry ? requestKey() : undefined);
      const sent = this._writable();
      if (!sent) this._queue.push(text, id);
      const timeout = options.timeout ?? this._options.requestTimeout;
      const reply = this._pending.track(id, { timeout, sent, what: type, resend: retry ? text : undefined });
      if (sent) this._attempt.transport.send(text);
      return reply;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Close for good: state `closed` (reason "closed"), no timer left, no further attempt.
   * Held and unanswered requests reject with `closed`. Calling it again does nothing.
   */
  close() {
    if (!this._final()) this._finish(CLOSED, { reason: "closed", code: 1000, message: "closed by the client" });
  }

  // -- connection ------------------------------------------------------------------------

  async _open() {
    this._timers.retry = null;
    const attempt = { transport: null, welcomed: false, timer: null };
    this._attempt = attempt;
    attempt.timer = setTimeout(
      () => this._drop("connect_timeout", `no welcome within ${this._options.connectTimeout} ms`),
      this._options.connectTimeout,
    );
    let query;
    try {
      query = await this._query();
    } catch (error) {
      if (attempt === this._attempt) this._drop("query_failed", `the query option failed: ${errorText(error)}`);
      return;
    }
    let token;
    try {
      token = await this._token();
    } catch (error) {
      if (attempt === this._attempt) this._tokenFailed(error);
      return;
    }
    if (attempt !== this._attempt) return; // closed or timed out while the query was computed
    // Hooks of an attempt the namespace moved on from say nothing.
    const current = (fn) => (...args) => { if (attempt === this._attempt) fn(...args); };
    const hooks = {
      frame: current((frame) => this._receive(frame)),
      alive: current(() => this._heartbeat.alive()),
      closed: current((code, message) => this._closed(code, message)),
    };
    try {
      attempt.transport = this._transports.current === "sse"
        ? new SseTransport(attemptUrl(this.sseUrl, query, this._offsets.query()), attemptUrl(this.sseUrl, query, {}),
          { token, postTimeout: this._options.requestTimeout }, hooks)
        : new WebSocketTransport(attemptUrl(this.url, query, this._offsets.query()), subprotocols(token), hooks);
    } catch (error) {
      // A port the browser blocks, say: no attempt can ever succeed.
      this._finish(CLOSED, { reason: "invalid_url", code: ABNORMAL, message: errorText(error) });
    }
  }

  /** The transport of the current attempt ("websocket" or "sse"), or of the next one. */
  get transport() {
    return this._attempt?.transport?.name ?? this._transports.current;
  }

  /** The app's query for this attempt (its function, if any, is called every time). */
  async _query() {
    const query = this._options.query;
    return typeof query === "function" ? await query() : query;
  }

  /** The token for this attempt or refresh (its function, if any, is called every time). */
  async _token() {
    const token = this._options.token;
    return typeof token === "function" ? await token() : token;
  }

  _tokenFailed(error) {
    this._finish(CLOSED, { reason: "token_failed", code: ABNORMAL, message: `the token option failed: ${errorText(error)}` });
  }

  /** Send `refresh` before `expiresIn` (seconds) runs out, when a token function can give a fresh token. */
  _scheduleRefresh(expiresIn) {
    clearTimeout(this._timers.refresh);
    this._timers.refresh = null;
    if (typeof expiresIn !== "number" || typeof this._options.token !== "function") return;
    if (!this._attempt?.transport?.refreshes) return;
    this._timers.refresh = setTimeout(() => this._refresh(), refreshDelay(expiresIn) * 1000);
  }

  /** A refused refresh needs nothing here: the server closes with 4001 and the client reconnects. */
  async _refresh() {
    this._timers.refresh = null;
    let token;
    try {
      token = await this._token();
    } catch (error) {
      this._tokenFailed(error);
      return;
    }
    try {
      const reply = await this.request("refresh", { token }, { retry: false });
      this._scheduleRefresh(reply?.expires_in);
    } catch {
      // closed, dropped or timed out: the next connection starts its own refreshes
    }
  }

  /** @param {Frame} frame */
  _receive(frame) {
    this._heartbeat.alive(); // any frame proves the connection alive
    const { type, data, id } = frame;
    if (type === "welcome") {
      this._welcome(data, frame);
    } else if (type === "reply") {
      this._pending.resolve(id, data);
    } else if (type === "error" && id != null) {
      this._pending.reject(id, new WsnsError(data?.code ?? "internal", data?.message ?? "error", data?.details));
    } else if (!this._offsets.accept(frame)) {
      // A frame this client already has (recovered and live copies overlapped): drop it.
    } else if (type === "presence_state" || type === "presence_diff") {
      const change = type === "presence_state"
        ? this._presence.reset(data, frame.truncated === true)
        : this._presence.apply(data);
      this._emit("presence", this.presence, change);
    } else if (type === "resync") {
      this._offsets.moved(data?.position);
      this._resync(data, frame);
    } else if (!OWN_EVENTS.has(type)) {
      this._emit(type, data, frame);
    }
  }

  _welcome(data, frame) {
    const attempt = this._attempt;
    if (attempt.welcomed) return;
    const reconnected = this.welcome !== null;
    clearTimeout(attempt.timer);
    attempt.welcomed = true;
    this._transports.opened(attempt.transport.name);
    this._backoff.opened();
    this.welcome = data;
    this.clientId = data?.client_id ?? null;
    const mustResync = this._offsets.welcome(data, reconnected);
    this.state = OPEN;
    this.reason = null;
    this._flush();
    this._heartbeat.start(data?.heartbeat_interval, attempt.transport.pingable);
    this._scheduleRefresh(data?.expires_in);
    // A listener may close the connection: stop telling the others it is open.
    this._emit("state", OPEN, null);
    if (this.state === OPEN) this._emit("welcome", data, frame);
    if (this.state === OPEN && mustResync) this._resync({ reason: "reconnected" }, null);
  }

  /** Tell the app to re-fetch, after the jitter; one waiting resync covers later ones. */
  _resync(data, frame) {
    if (this._timers.resync !== null) return;
    const delay = Math.floor(Math.random() * this._options.resyncJitter);
    if (delay === 0) {
      this._emit("resync", data, frame);
      return;
    }
    this._timers.resync = setTimeout(() => {
      this._timers.resync = null;
      this._emit("resync", data, frame);
    }, delay);
  }

  _flush() {
    for (const { text, id } of this._queue.drain()) {
      const error = this._oversize(text);
      if (error && id != null) this._pending.reject(id, error);
      else if (error) this._emit("error", { code: error.code, message: error.message }, null);
      else {
        if (id != null) this._pending.markSent(id);
        this._attempt.transport.send(text);
      }
    }
  }

  /** The socket closed on its own (the server or the network closed it). */
  _closed(code, message) {
    const denial = code >= 4400 && code < 4500 && code !== 4410 ? DENIALS[code] || "denied" : null;
    if (denial) {
      this._finish(DENIED, { reason: denial, code, message });
    } else if (FINAL_CLOSES[code]) {
      this._finish(CLOSED, { reason: FINAL_CLOSES[code], code, message });
    } else {
      this._detach(false, true)?.close(1000);
      this._retry({ reason: "connection_lost", code, message });
    }
  }

  /** The client gave up on the current attempt (heartbeat, connect timeout, failed query). */
  _drop(reason, message) {
    this._detach(false, true)?.close(4000, reason);
    this._retry({ reason, code: ABNORMAL, message });
  }

  /**
   * Forget the current attempt: no more events from its transport, its timers stopped, and
   * (unless the end is final, where everything fails with `closed`) its sent requests failed.
   * A `failed` attempt that never opened counts towards "auto"'s fallback to SSE.
   * @returns {WebSocketTransport | SseTransport | null} the transport, for the caller to close
   */
  _detach(final = false, failed = false) {
    const attempt = this._attempt;
    this._attempt = null;
    this._heartbeat.stop();
    clearTimeout(this._timers.refresh);
    this._timers.refresh = null;
    if (!attempt) return null;
    clearTimeout(attempt.timer);
    if (attempt.welcomed) this._backoff.closed();
    if (!final) {
      this._queue.requeue(this._pending.dropped(new WsnsError("disconnected", "the connection dropped before the reply")));
    }
    const transport = attempt.transport;
    if (failed && transport && !transport.opened && !attempt.welcomed) this._transports.failed(transport.name);
    return transport;
  }

  _retry(detail) {
    if (this._backoff.failures >= this._options.maxAttempts) {
      this._finish(CLOSED, { ...detail, reason: "gave_up" });
      return;
    }
    const delay = this._backoff.next(retryHint(detail.code, detail.message));
    this._timers.retry = setTimeout(() => this._open(), delay);
    this._setState(RECONNECTING, { ...detail, attempt: this._backoff.failures, delay });
  }

  /** `online` or the page became visible: retry now, or check an open connection now. */
  _wake() {
    if (this._timers.retry !== null) {
      clearTimeout(this._timers.retry);
      this._open();
    } else if (this.state === OPEN) {
      this._heartbeat.check();
    }
  }

  _finish(state, detail) {
    clearTimeout(this._timers.retry);
    clearTimeout(this._timers.resync);
    this._timers.retry = this._timers.resync = null;
    this._detach(true)?.close(1000);
    if (typeof window !== "undefined") window.removeEventListener("online", this._onWake);
    if (typeof document !== "undefined") document.removeEventListener("visibilitychange", this._onWake);
    const message = state === DENIED ? `denied: ${detail.reason}` : `closed: ${detail.reason}`;
    this._pending.rejectAll(new WsnsError(CLOSED, message, detail));
    this._queue.drain();
    this.reason = detail;
    this.state = state;
    this._emit("state", state, detail);
  }

  /** Open, and the transport has not started closing (a write then would be lost silently). */
  _writable() {
    const transport = this._attempt?.transport;
    return this.state === OPEN && transport != null && transport.writable();
  }

  _final() {
    return this.state === CLOSED || this.state === DENIED;
  }

  _assertUsable() {
    if (this._final()) throw new WsnsError(CLOSED, "the connection is closed", this.reason);
  }

  _setState(state, detail) {
    if (this.state === state) return;
    this.state = state;
    this.reason = null;
    this._emit("state", state, detail);
  }

  // -- helpers ---------------------------------------------------------------------------

  _encode(type, data, id, key) {
    if (typeof type !== "string" || !type) throw new TypeError("message type must be a non-empty string");
    const frame = id === undefined ? { type, data } : key === undefined ? { type, data, id } : { type, data, id, key };
    const text = JSON.stringify(frame);
    const error = this._oversize(text);
    if (error) throw error;
    return text;
  }

  /** A `too_big` error when `text` is over the server's frame limit (from the last welcome). */
  _oversize(text) {
    const limit = this.welcome?.limits?.max_frame_size ?? Infinity;
    if (text.length <= limit || new TextEncoder().encode(text).length <= limit) return null;
    return new WsnsError("too_big", `frame over the server's limit of ${limit} bytes`);
  }

  _emit(type, ...args) {
    const set = this._listeners.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (error) {
        // One failing listener must neither break the connection nor silence the others.
        (globalThis.reportError || console.error)(error);
      }
    }
  }
}

function socketUrl(path) {
  const url = new URL(path, globalThis.location?.href);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if ((url.protocol !== "ws:" && url.protocol !== "wss:") || url.hash) {
    throw new TypeError(`not a WebSocket URL: ${path}`);
  }
  return url.href;
}

/**
 * The http(s):// URL of a namespace's SSE stream: `prefix` before the path, on the same origin.
 * @param {string} wsUrl  the namespace's ws(s):// URL
 * @param {string} prefix  the server's `WSNS_SSE_PREFIX`
 */
function sseUrl(wsUrl, prefix) {
  const url = new URL(wsUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = prefix.replace(/\/+$/, "") + url.pathname;
  return url.href;
}

function isPosition(value) {
  return Number.isInteger(value?.offset) && typeof value?.epoch === "string";
}

function objectOrEmpty(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
}

function errorText(error) {
  return String(error?.message || error);
}
