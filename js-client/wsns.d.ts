// Types for wsns.js, the sanic-wsns browser client (wire protocol v1.1).

/** Connection state; `closed` and `denied` are final. */
export type State = "connecting" | "open" | "reconnecting" | "closed" | "denied";

/** Why a connection became `denied` or `closed`, or why it is `reconnecting`. */
export interface StateDetail {
  /**
   * `denied`: "unauthenticated" (4401) | "forbidden" (4403) | "not_found" (4404) | "denied" (other 44xx).
   * `closed`: "closed" (close()) | "removed" (4410) | "server_closed" (1000) |
   *   "policy_violation" (1008) | "gave_up" (maxAttempts reached) | "invalid_url" |
   *   "token_failed" (v1.2: the `token` function threw or rejected).
   * `reconnecting`: "connection_lost" | "heartbeat_timeout" | "connect_timeout" | "query_failed".
   */
  reason: string;
  /** WebSocket close code (1006 when the browser saw none). */
  code: number;
  /** The server's close reason, or the client's explanation. */
  message: string;
  /** `reconnecting` only: number of the first reconnect attempt. */
  attempt?: number;
  /** `reconnecting` only: milliseconds until that attempt. */
  delay?: number;
}

export interface BackoffOptions {
  /** Cap of the first reconnect delay, ms. Default 500. */
  base?: number;
  /** Largest cap, ms. Default 20000. */
  max?: number;
  /** Cap growth per failed attempt. Default 2. */
  factor?: number;
}

export interface HeartbeatOptions {
  /** ms between pings. Default: the welcome's heartbeat_interval, else 20000. */
  interval?: number;
  /** ms to wait for any frame after a ping before reconnecting. Default: interval, at most 10000. */
  timeout?: number;
}

/**
 * Extra upgrade-URL parameters, sent as `String(value)`; null and undefined are left out.
 * `since` and `epoch` are reserved for recovery: the app's are never sent, the client's win.
 */
export type QueryParams = Record<string, string | number | boolean | null | undefined>;

export interface ConnectOptions {
  /**
   * Reconnect delay: random in [0, min(max, base * factor ** failures)) ("full jitter"), where
   * `failures` counts failed attempts since the last connection that stayed open `stableAfter` ms.
   */
  backoff?: BackoffOptions;
  /** Consecutive failed reconnects before giving up (state `closed`, reason "gave_up"). Default Infinity. */
  maxAttempts?: number;
  /**
   * ms a connection must stay open before backoff starts again from `base` (a server that
   * welcomes then drops at once is not hammered). Default 10000.
   */
  stableAfter?: number;
  /** ms from the start of an attempt (the query function included) to its welcome. Default 10000. */
  connectTimeout?: number;
  /** Sends and requests held while not open. Default 100. */
  queueLimit?: number;
  /** Default request timeout, ms. Default 10000. */
  requestTimeout?: number;
  /** `false` disables the app-level heartbeat. */
  heartbeat?: HeartbeatOptions | false;
  /**
   * The `resync` listeners run after a random delay in [0, resyncJitter) ms, so that many pages
   * told at once do not re-fetch in the same millisecond; 0 runs them at once. A resync that
   * comes while one is waiting is merged into it. Default 3000.
   */
  resyncJitter?: number;
  /**
   * Added to the upgrade URL. A function is called before every attempt (it may be async,
   * e.g. to fetch a fresh token); if it throws or rejects, the attempt fails and is retried
   * (state `reconnecting`, reason "query_failed").
   */
  query?: QueryParams | (() => QueryParams | Promise<QueryParams>);
  /**
   * v1.2: sent in `Sec-WebSocket-Protocol` (`wsns.v1, wsns.token.<base64url>`), never in the
   * URL; `authorize` reads it as `request.ctx.wsns_token`. A function is called before every
   * attempt and before every refresh (sent a quarter of `welcome.expires_in` before expiry,
   * at most 30 s before); if it throws or rejects the client gives up (state `closed`,
   * reason "token_failed"). After a 4001 close (expired) the client reconnects.
   */
  token?: string | (() => string | Promise<string>);
  /**
   * v1.2: "websocket"; "sse" (a Server-Sent Events stream read with fetch, and one POST per
   * frame to the server, answered by any instance; the token goes as `Authorization: Bearer`);
   * "auto" (default): WebSocket first, SSE once two WebSocket attempts in a row never opened
   * while none ever did, remembered for the tab in sessionStorage (`wsns.transport`). The
   * same events, states, requests, presence and recovery either way.
   */
  transport?: Transport;
  /** The server's WSNS_SSE_PREFIX: the stream and the POSTs go to `{ssePrefix}{path}`. Default "/wsns/sse". */
  ssePrefix?: string;
}

/** v1.2: how frames travel. */
export type Transport = "auto" | "websocket" | "sse";

export interface RequestOptions {
  /** ms; default the connection's requestTimeout; 0 for none. */
  timeout?: number;
  /**
   * v1.2, default true: the request carries a random `key`, and if the connection drops before
   * its reply it is sent again with the same key once the connection is back: the server runs
   * it at most once and answers the repeat with the first answer. `false`: no key, and a drop
   * rejects it with `disconnected` (v1).
   */
  retry?: boolean;
}

/** A frame as the server sent it. */
export interface Frame<T = unknown> {
  type: string;
  data?: T;
  id?: number;
  /** v1.1: a broadcast's place in a history namespace. */
  offset?: number;
  /** v1.1, `presence_state` only: the state was cut at the server's limit. */
  truncated?: boolean;
}

/** v1.1: where a history namespace's stream is; every frame with a larger offset follows. */
export interface Position {
  offset: number;
  epoch: string;
}

/** v1.1: what one presence frame changed, client id → public identity. */
export interface PresenceChange<P = unknown> {
  /** Clients that arrived, and clients already present whose public value changed
   * (`update_presence` on the server: the new value overwrites, no leave comes with it). */
  joins: Record<string, P>;
  leaves: Record<string, P>;
}

/** The `resync` event's data: why the app must re-fetch its state. */
export interface ResyncData {
  /**
   * From the server: "epoch_changed" | "history_exhausted" | "broker_lost" | "overflow" | ...;
   * from the client: "reconnected" (a reconnect to a namespace without history).
   */
  reason: string;
  /** v1.1: where the stream goes on from, when it moved (a new epoch restarts offsets). */
  position?: Position;
  [key: string]: unknown;
}

/** The `welcome` frame's data. */
export interface Welcome {
  client_id: string;
  path: string;
  params: Record<string, unknown>;
  public: unknown;
  limits: { max_frame_size: number; rate_limit: number; rate_burst: number };
  /** Seconds. */
  heartbeat_interval: number;
  protocol: number;
  /** v1.1, history namespaces: the stream's position when this client was admitted. */
  position?: Position;
  /** v1.1: present when the client asked for recovery (since/epoch): whether it worked. */
  recovered?: boolean;
  /** v1.2: seconds until the server closes with 4001 (expired) unless refreshed. */
  expires_in?: number;
  /** v1.2, SSE streams: names this client in the POSTs (`X-Wsns-Client`). */
  client_token?: string;
}

/** An `error` frame's data, also what the `"error"` event receives. */
export interface ErrorData {
  code: string;
  message: string;
  details?: unknown;
}

/**
 * Thrown by `send`, rejected by `request`. `code` is a protocol error code ("invalid_data",
 * "conflict", "not_found", "unknown_type", "rate_limited", "internal", ...) or a client code:
 * "timeout", "disconnected", "closed", "queue_full", "too_big".
 */
export class WsnsError extends Error {
  constructor(code: string, message: string, details?: unknown);
  code: string;
  details: unknown;
}

export class Namespace<P = unknown> {
  constructor(path: string, options?: ConnectOptions);
  /** The path given to connect. */
  readonly path: string;
  /** The ws:// or wss:// URL it connects to. */
  readonly url: string;
  /** v1.2: the http(s):// URL of its SSE stream and POSTs. */
  readonly sseUrl: string;
  /** v1.2: the transport of the current attempt, or of the next one. */
  readonly transport: "websocket" | "sse";
  readonly state: State;
  /** The last detail of `denied` or `closed`, else null. */
  readonly reason: StateDetail | null;
  /** Server-assigned id, from the last welcome. */
  readonly clientId: string | null;
  /** The last welcome's data. */
  readonly welcome: Welcome | null;
  /** v1.1: the last offset this client has and the epoch (history namespaces), else null. */
  readonly position: Position | null;
  /**
   * v1.1: who is in the namespace on every instance, client id → public identity. One live
   * Map: replaced by each connect's presence_state, changed by each presence_diff; it keeps its
   * last content while reconnecting. Empty in a namespace without presence.
   */
  readonly presence: ReadonlyMap<string, P>;
  /** v1.1: the last presence state was cut at the server's limit (members are missing). */
  readonly presenceTruncated: boolean;

  on(type: "state", fn: (state: State, detail: StateDetail | null) => void): () => void;
  on(type: "welcome", fn: (data: Welcome, frame: Frame<Welcome>) => void): () => void;
  /**
   * The app must re-fetch its state: on a server resync frame (`data.reason` says why, frame
   * given), and after a reconnect to a namespace without history (data {reason:
   * "reconnected"}, frame null). Never after a successful recovery. Called after a random delay
   * of up to `resyncJitter` ms.
   */
  on(type: "resync", fn: (data: ResyncData, frame: Frame<ResyncData> | null) => void): () => void;
  /** v1.1: after every presence frame, with the live Map and what the frame changed. */
  on(type: "presence", fn: (presence: ReadonlyMap<string, P>, change: PresenceChange<P>) => void): () => void;
  /** An error frame that answers no request (a bad fire-and-forget message). */
  on(type: "error", fn: (data: ErrorData, frame: Frame<ErrorData> | null) => void): () => void;
  /** Server frames of `type`. Returns a function that removes the listener. */
  on<T = any>(type: string, fn: (data: T, frame: Frame<T>) => void): () => void;
  off(type: string, fn: (...args: any[]) => void): void;

  /** Fire-and-forget; held (bounded) while not open. Throws WsnsError "queue_full" | "too_big" | "closed". */
  send(type: string, data?: unknown): void;
  /** Resolves with the reply's data; rejects with WsnsError. */
  request<T = any>(type: string, data?: unknown, options?: RequestOptions): Promise<T>;
  /** Final: state `closed` (reason "closed"), no timers, no further attempts. */
  close(): void;
}

/** Open a namespace; every call makes a new, independent connection. Throws TypeError for a non-WebSocket URL. */
export function connect<P = unknown>(path: string, options?: ConnectOptions): Namespace<P>;
