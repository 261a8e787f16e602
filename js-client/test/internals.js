// The client's parts, for its own tests. wsns.js exports its public API only; this loads the
// same source as a module of its own with one export line added, so the tests exercise the
// very code the client runs (no copy) and no test-only export ships in the public module.
// `WsnsError` comes from here too: the parts throw this module's, not the public one's.
import { readFileSync } from "node:fs";

const PARTS = ["Backoff", "SendQueue", "PendingRequests", "Heartbeat", "OffsetTracker", "PresenceState",
  "attemptUrl", "subprotocols", "refreshDelay", "retryHint", "EventStreamParser", "TransportChoice",
  "TRANSPORT_KEY", "sseUrl"];
const source = readFileSync(new URL("../wsns.js", import.meta.url), "utf8");
const module = `${source}\nexport { ${PARTS.join(", ")} };\n`;
const parts = await import(`data:text/javascript;base64,${Buffer.from(module).toString("base64")}`);

export const {
  Backoff, SendQueue, PendingRequests, Heartbeat, OffsetTracker, PresenceState, attemptUrl, subprotocols,
  refreshDelay, retryHint, EventStreamParser, TransportChoice, TRANSPORT_KEY, sseUrl, WsnsError,
} = parts;
