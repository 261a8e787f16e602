// The page's WebSocket tokens: short-lived, fetched with the session cookie (which the
// page's script never sees: HttpOnly), sent by the wsns client in Sec-WebSocket-Protocol.
import { ApiError, api } from "./api.js";

/**
 * The wsns client's `token` option: a fresh token for each WebSocket attempt and refresh,
 * never in a URL. It rejects only when signed out (401), which ends the connection for
 * good (see `signedOut`). Any other failure (an instance restarting) gives no token: that
 * attempt shows the session cookie instead, and a failed attempt is retried as usual.
 */
export async function wsToken() {
  try {
    return (await api("POST", "/api/1/session/ws-token")).token;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    return null;
  }
}

/** Whether a connection's `state` event says its user is signed out: the upgrade was
 * refused as unauthenticated, or `wsToken` was refused (the client's "token_failed"). */
export function signedOut(state, detail) {
  return (state === "denied" && detail?.reason === "unauthenticated")
    || (state === "closed" && detail?.reason === "token_failed");
}
