/**
 * sanic-wsns browser client: one WebSocket connection per namespace (wire protocol v1).
 *
 * One ES module, no dependencies, no build step. Served by the extension at
 * `/wsns/client.js` by default:
 *
 *     import { connect } from "/wsns/client.js";
 *     const ns = connect("/api/1/ws/bubblemap/42");
 *     ns.on("bubble-created", (bubble) => draw(bubble));
 *     ns.on("state", (state, detail) => showState(state, detail));
 *     const bubble = await ns.request("bubble-create", { x: 1, y: 2, text: "hi", color: "#ff0000" });
 *
 * What it survives: the server restarting or going away (reconnect with exponential backoff
 * and full jitter, at once on the browser's `online` event), a connection that died without
 * the browser noticing (app-level ping/pong heartbeat), a handshake that hangs (connect
 * timeout). What stops it for good: `close()`, a denial (4401/4403/4404 and any other 44xx),
 * the namespace being removed (4410), a normal close by the server (1000), a policy
 * violation (1008), and `maxAttempts` failed attempts in a row.
 *
 * @module wsns
 */

/** @typedef {"connecting" | "open" | "reconnecting" | "closed" | "denied"} State */

/**
 * Why a connection stopped (state `denied` or `closed`) or is being re-established
 * (state `reconnecting`).
 * @typedef {object} StateDetail
 * @property {string} reason  `denied`: "unauthenticated" | "forbidden" | "not_found" | "denied";
 *   `closed`: "closed" (by `close()`) | "removed" (4410) | "server_closed" (1000) |
 *   "policy_violation" (1008) | "gave_up" (`maxAttempts` reached) | "invalid_url";
 *   `reconnecting`: "connection_lost" | "heartbeat_timeout" | "connect_timeout"
 * @property {number} code  the WebSocket close code (1006 when the browser saw none)
 * @property {string} message  the server's close reason, or the client's explanation
 * @property {number} [attempt]  `reconnecting` only: the number of the first reconnect attempt
 * @property {number} [delay]  `reconnecting` only: milliseconds until that attempt
 */

/**
 * @typedef {object} BackoffOptions
 * @property {number} [base=500]  cap of the first delay, in ms
 * @property {number} [max=20000]  largest cap, in ms
 * @property {number} [factor=2]  cap growth per failed attempt
 */

/**
 * @typedef {object} HeartbeatOptions
 * @property {number} [interval]  ms between pings; default: the welcome's
 *   `heartbeat_interval`, else 20000
 * @property {number} [timeout]  ms to wait for any frame after a ping before the connection
 *   is declared dead; default: the interval, at most 10000
 */

/**
 * @typedef {object} ConnectOptions
 * @property {BackoffOptions} [backoff]  reconnect delays: a random value in [0, cap) where the
 *   cap is `base * factor ** n` up to `max` ("full jitter"); `n` counts failed attempts since
 *   the last connection that stayed open `stableAfter` ms
 * @property {number} [maxAttempts=Infinity]  consecutive failed reconnects before giving up
 *   (state `closed`, reason "gave_up")
 * @property {number} [stableAfter=10000]  ms a connection must stay open before the backoff
 *   starts again from `base` (a server that welcomes then drops at once is not hammered)
 * @property {number} [connectTimeout=10000]  ms from opening a socket to its `welcome`
 * @property {number} [queueLimit=100]  sends and requests held while not open
 * @property {number} [requestTimeout=10000]  default `request` timeout, in ms
 * @property {HeartbeatOptions | false} [heartbeat]  `false` disables the heartbeat
 */

/**
 * @typedef {object} RequestOptions
 * @property {number} [timeout]  ms; default the connection's `requestTimeout`; 0 for none
 */

/**
 * @typedef {object} Frame  a frame as it came from the server
 * @property {string} type
 * @property {*} [data]
 * @property {number} [id]
 */

/**
 * The error `send` throws and `request` rejects with.
 *
 * `code` is a protocol error code from the server (`invalid_data`, `conflict`, `not_found`,
 * `unknown_type`, `rate_limited`, `internal`...) or a client code: `timeout` (no reply in
 * time), `disconnected` (the connection dropped after the request was sent: it may or may
 * not have been handled), `closed` (the connection is closed or denied for good),
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
const OWN_EVENTS = new Set(["state", "welcome", "resync"]);
const ABNORMAL = 1006;
const CONNECTING = "connecting";
const OPEN = "open";
const RECONNECTING = "reconnecting";
const CLOSED = "closed";
const DENIED = "denied";

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
    /** @type {State} */
    this.state = CONNECTING;
    /** @type {StateDetail | null} the last detail of `denied` or `closed`, else null */
    this.reason = null;
    /** @type {string | null} the server-assigned id, from the last `welcome` */
    this.clientId = null;
    /** @type {object | null} the last `welcome` data */
    this.welcome = null;

    const backoff = options.backoff || {};
    /** @type {string} the ws:// or wss:// URL */
    this.url = socketUrl(path);
    this._base = backoff.base ?? 500;
    this._max = backoff.max ?? 20000;
    this._factor = backoff.factor ?? 2;
    this._maxAttempts = options.maxAttempts ?? Infinity;
    this._stableAfter = options.stableAfter ?? 10000;
    this._connectTimeout = options.connectTimeout ?? 10000;
    this._queueLimit = options.queueLimit ?? 100;
    this._requestTimeout = options.requestTimeout ?? 10000;
    this._heartbeat = options.heartbeat === false ? false : options.heartbeat || {};

    /** @type {Map<string, Set<Function>>} */
    this._listeners = new Map();
    /** @type {{text: string, id?: number}[]} frames held while not open */
    this._queue = [];
    /** @type {Map<number, {resolve: Function, reject: Function, timer: any, sent: boolean}>} */
    this._pending = new Map();
    this._lastId = 0;
    this._failures = 0;
    this._welcomed = false;
    this._openedAt = 0;
    this._maxFrameSize = Infinity;
    /** @type {WebSocket | null} */
    this._ws = null;
    this._retryTimer = null;
    this._connectTimer = null;
    this._pingTimer = null;
    this._deadTimer = null;
    this._pings = 0;
    this._pingInterval = 20000;

    this._onOnline = () => this._wake();
    this._onVisible = () => {
      if (document.visibilityState === "visible") this._wake();
    };
    if (typeof window !== "undefined") window.addEventListener("online", this._onOnline);
    if (typeof document !== "undefined") document.addEventListener("visibilitychange", this._onVisible);
    this._open();
  }

  /**
   * Listen to server frames of `type` (`fn(data, frame)`), or to the client's own events:
   * `"state"` (`fn(state, detail)`), `"welcome"` (`fn(welcomeData, frame)`), `"resync"`
   * (`fn(data, frame)`: on a server `resync` frame, and after every reconnect's welcome with
   * `data = {reason: "reconnected"}` and `frame = null`), `"error"` (`fn(errorData, frame)`
   * for an error frame that answers no request).
   *
   * @param {string} type
   * @param {Function} fn
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
   * @param {Function} fn
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
    if (this._final()) throw new WsnsError(CLOSED, "the connection is closed", this.reason);
    const text = this._encode(type, data);
    if (this._writable()) {
      this._ws.send(text);
      return;
    }
    if (this._queue.length >= this._queueLimit) {
      throw new WsnsError("queue_full", `more than ${this._queueLimit} messages waiting to be sent`);
    }
    this._queue.push({ text });
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
    return new Promise((resolve, reject) => {
      if (this._final()) throw new WsnsError(CLOSED, "the connection is closed", this.reason);
      const id = ++this._lastId;
      const text = this._encode(type, data, id);
      const open = this._writable();
      if (!open && this._queue.length >= this._queueLimit) {
        throw new WsnsError("queue_full", `more than ${this._queueLimit} messages waiting to be sent`);
      }
      const timeout = options.timeout ?? this._requestTimeout;
      const entry = { resolve, reject, timer: null, sent: open };
      if (timeout > 0 && timeout < Infinity) {
        entry.timer = setTimeout(() => {
          this._pending.delete(id);
          this._queue = this._queue.filter((q) => q.id !== id);
          reject(new WsnsError("timeout", `no reply to ${type} within ${timeout} ms`));
        }, timeout);
      }
      this._pending.set(id, entry);
      if (open) this._ws.send(text);
      else this._queue.push({ text, id });
    });
  }

  /**
   * Close for good: state `closed` (reason "closed"), no timer left, no further attempt.
   * Held and unanswered requests reject with `closed`. Calling it again does nothing.
   */
  close() {
    if (!this._final()) this._finish(CLOSED, { reason: "closed", code: 1000, message: "closed by the client" });
  }

  // -- connection ------------------------------------------------------------------------

  _open() {
    this._retryTimer = null;
    this._welcomed = false;
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch (error) {
      // A port the browser blocks, say: no attempt can ever succeed.
      this._finish(CLOSED, { reason: "invalid_url", code: ABNORMAL, message: String(error.message || error) });
      return;
    }
    this._ws = ws;
    ws.onmessage = (event) => {
      if (ws === this._ws) this._receive(event.data);
    };
    ws.onclose = (event) => {
      if (ws === this._ws) this._closed(event.code, event.reason);
    };
    this._connectTimer = setTimeout(
      () => this._drop("connect_timeout", `no welcome within ${this._connectTimeout} ms`),
      this._connectTimeout,
    );
  }

  _receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return; // the server only sends JSON; anything else is noise on the wire
    }
    if (!frame || typeof frame.type !== "string") return;
    clearTimeout(this._deadTimer); // any frame proves the connection alive
    this._deadTimer = null;
    const { type, data, id } = frame;
    if (type === "welcome") {
      this._welcome(data, frame);
    } else if (type === "reply" || (type === "error" && id != null)) {
      const entry = this._pending.get(id);
      if (!entry) return; // it already timed out
      this._pending.delete(id);
      clearTimeout(entry.timer);
      if (type === "reply") entry.resolve(data);
      else entry.reject(new WsnsError(data?.code ?? "internal", data?.message ?? "error", data?.details));
    } else if (type === "resync" || !OWN_EVENTS.has(type)) {
      this._emit(type, data, frame);
    }
  }

  _welcome(data, frame) {
    if (this._welcomed) return;
    const reconnected = this.welcome !== null;
    clearTimeout(this._connectTimer);
    this._connectTimer = null;
    this._welcomed = true;
    this._openedAt = Date.now();
    this.welcome = data;
    this.clientId = data?.client_id ?? null;
    this._maxFrameSize = data?.limits?.max_frame_size ?? Infinity;
    this.state = OPEN;
    this.reason = null;
    this._flush();
    this._startHeartbeat(data?.heartbeat_interval);
    // A listener may close the connection: stop telling the others it is open.
    this._emit("state", OPEN, null);
    if (this.state === OPEN) this._emit("welcome", data, frame);
    if (this.state === OPEN && reconnected) this._emit("resync", { reason: "reconnected" }, null);
  }

  _flush() {
    const queue = this._queue;
    this._queue = [];
    for (const { text, id } of queue) {
      if (text.length > this._maxFrameSize && byteLength(text) > this._maxFrameSize) {
        const error = new WsnsError("too_big", `frame over the server's limit of ${this._maxFrameSize} bytes`);
        if (id != null) this._settle(id, error);
        else this._emit("error", { code: error.code, message: error.message }, null);
        continue;
      }
      if (id != null) this._pending.get(id).sent = true;
      this._ws.send(text);
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
      this._detach();
      this._retry({ reason: "connection_lost", code, message });
    }
  }

  /** The client gave up on the current socket (heartbeat or connect timeout). */
  _drop(reason, message) {
    this._detach().close(4000, reason);
    this._retry({ reason, code: ABNORMAL, message });
  }

  /**
   * Forget the current socket: no more events from it, its timers stopped, and (unless the
   * end is final, where everything fails with `closed`) its sent requests failed.
   * @returns {WebSocket | null} the socket, for the caller to close
   */
  _detach(final = false) {
    const ws = this._ws;
    if (ws) ws.onmessage = ws.onclose = null;
    this._ws = null;
    clearTimeout(this._connectTimer);
    this._stopHeartbeat();
    this._connectTimer = null;
    if (this._welcomed && Date.now() - this._openedAt >= this._stableAfter) this._failures = 0;
    this._welcomed = false;
    if (!final) {
      for (const [id, entry] of this._pending) {
        if (entry.sent) this._settle(id, new WsnsError("disconnected", "the connection dropped before the reply"));
      }
    }
    return ws;
  }

  _retry(detail) {
    if (this._failures >= this._maxAttempts) {
      this._finish(CLOSED, { ...detail, reason: "gave_up" });
      return;
    }
    const cap = Math.min(this._max, this._base * this._factor ** this._failures);
    const delay = Math.floor(Math.random() * cap);
    this._failures += 1;
    this._retryTimer = setTimeout(() => this._open(), delay);
    this._setState(RECONNECTING, { ...detail, attempt: this._failures, delay });
  }

  /** `online` or the page became visible: retry now, or check an open connection now. */
  _wake() {
    if (this._retryTimer !== null) {
      clearTimeout(this._retryTimer);
      this._open();
    } else if (this.state === OPEN) {
      this._ping();
    }
  }

  _finish(state, detail) {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    const ws = this._detach(true);
    if (ws) ws.close(1000);
    if (typeof window !== "undefined") window.removeEventListener("online", this._onOnline);
    if (typeof document !== "undefined") document.removeEventListener("visibilitychange", this._onVisible);
    const message = state === DENIED ? `denied: ${detail.reason}` : `closed: ${detail.reason}`;
    for (const id of [...this._pending.keys()]) this._settle(id, new WsnsError(CLOSED, message, detail));
    this._queue = [];
    this.reason = detail;
    this.state = state;
    this._emit("state", state, detail);
  }

  /** Open, and the socket has not started closing (a write then would be lost silently). */
  _writable() {
    return this.state === OPEN && this._ws !== null && this._ws.readyState === WebSocket.OPEN;
  }

  _final() {
    return this.state === CLOSED || this.state === DENIED;
  }

  _setState(state, detail) {
    if (this.state === state) return;
    this.state = state;
    this.reason = null;
    this._emit("state", state, detail);
  }

  // -- heartbeat -------------------------------------------------------------------------

  _startHeartbeat(serverInterval) {
    if (this._heartbeat === false) return;
    const interval = this._heartbeat.interval ?? (serverInterval > 0 ? serverInterval * 1000 : 20000);
    this._pingInterval = interval;
    this._pingTimer = setTimeout(() => this._ping(), interval);
  }

  _ping() {
    if (this._heartbeat === false || this.state !== OPEN || this._deadTimer !== null) return;
    clearTimeout(this._pingTimer);
    const timeout = this._heartbeat.timeout ?? Math.min(this._pingInterval, 10000);
    this._ws.send(JSON.stringify({ type: "ping", data: ++this._pings }));
    this._deadTimer = setTimeout(() => this._drop("heartbeat_timeout", `no answer within ${timeout} ms`), timeout);
    this._pingTimer = setTimeout(() => this._ping(), this._pingInterval);
  }

  _stopHeartbeat() {
    clearTimeout(this._pingTimer);
    clearTimeout(this._deadTimer);
    this._pingTimer = this._deadTimer = null;
  }

  // -- helpers ---------------------------------------------------------------------------

  _encode(type, data, id) {
    if (typeof type !== "string" || !type) throw new TypeError("message type must be a non-empty string");
    const text = JSON.stringify(id === undefined ? { type, data } : { type, data, id });
    if (text.length > this._maxFrameSize && byteLength(text) > this._maxFrameSize) {
      throw new WsnsError("too_big", `frame over the server's limit of ${this._maxFrameSize} bytes`);
    }
    return text;
  }

  _settle(id, error) {
    const entry = this._pending.get(id);
    if (!entry) return;
    this._pending.delete(id);
    clearTimeout(entry.timer);
    entry.reject(error);
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
  const url = new URL(path, location.href);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if ((url.protocol !== "ws:" && url.protocol !== "wss:") || url.hash) {
    throw new TypeError(`not a WebSocket URL: ${path}`);
  }
  return url.href;
}

function byteLength(text) {
  return new TextEncoder().encode(text).length;
}
