// Type-checked with `npx tsc --noEmit -p js-client/tsconfig.json`, never run: it uses every
// documented call of the client the way an app would, through the package's own name (so the
// `exports`/`types` mapping is checked too). `@ts-expect-error` lines are mistakes the types
// must catch.
import { connect, Namespace, WsnsError } from "sanic-wsns-client";
import type {
  ConnectOptions, ErrorData, Frame, Position, PresenceChange, QueryParams, ResyncData, State, StateDetail, Welcome,
} from "sanic-wsns-client";
// @ts-expect-error the parts are internal: not in the types
import { __internals } from "sanic-wsns-client";

interface Bubble { id: number; x: number; y: number; text: string; color: string; version: number }
interface Person { name: string }

declare function getToken(): Promise<string>;
declare function draw(bubble: Bubble): void;
declare function refetch(reason: string): void;

const options: ConnectOptions = {
  backoff: { base: 500, max: 20_000, factor: 2 },
  maxAttempts: Infinity,
  stableAfter: 10_000,
  connectTimeout: 10_000,
  queueLimit: 100,
  requestTimeout: 10_000,
  heartbeat: { interval: 20_000, timeout: 10_000 },
  resyncJitter: 3_000,
  query: async (): Promise<QueryParams> => ({ token: await getToken(), v: 2, debug: null }),
};
const ns: Namespace<Person> = connect<Person>("/api/1/ws/bubblemap/42", options);
connect("/ws/plain", { query: { token: "t" }, heartbeat: false });
connect("/ws/sync-query", { query: () => ({ token: "t" }) });
connect("/ws/sse", { transport: "sse", ssePrefix: "/wsns/sse" });
// @ts-expect-error the transports are "auto", "websocket" and "sse"
connect("/ws/poll", { transport: "long-polling" });
// @ts-expect-error a query value must be a string, number, boolean, null or undefined
connect("/ws/bad", { query: { token: { nested: true } } });

const path: string = ns.path;
const url: string = ns.url;
const sseUrl: string = ns.sseUrl;
const transport: "websocket" | "sse" = ns.transport;
const state: State = ns.state;
const reason: StateDetail | null = ns.reason;
const clientId: string | null = ns.clientId;
const welcome: Welcome | null = ns.welcome;
const position: Position | null = ns.position;
const truncated: boolean = ns.presenceTruncated;
const members: ReadonlyMap<string, Person> = ns.presence;
// @ts-expect-error the presence Map is the client's to change
ns.presence.set("someone", { name: "Eve" });
console.log(path, url, state, reason, clientId, welcome?.recovered, welcome?.position?.epoch, position, truncated, members, sseUrl, transport);

const offState = ns.on("state", (next: State, detail: StateDetail | null) => {
  if (next === "denied" && detail) console.log(detail.reason, detail.code, detail.message);
  if (next === "reconnecting" && detail) console.log(detail.attempt, detail.delay);
});
offState();
ns.on("welcome", (data: Welcome, frame: Frame<Welcome>) => console.log(data.client_id, data.limits.max_frame_size, frame.type));
ns.on("resync", (data: ResyncData, frame: Frame<ResyncData> | null) => refetch(frame ? data.reason : "reconnected"));
ns.on("presence", (presence: ReadonlyMap<string, Person>, change: PresenceChange<Person>) => {
  for (const person of presence.values()) console.log(person.name);
  console.log(Object.keys(change.joins), Object.values(change.leaves).map((p) => p.name));
});
ns.on("error", (data: ErrorData) => console.log(data.code, data.message, data.details));
const onCreated = (bubble: Bubble, frame: Frame<Bubble>) => {
  draw(bubble);
  console.log(frame.offset);
};
ns.on<Bubble>("bubble-created", onCreated);
ns.off("bubble-created", onCreated);

ns.send("cursor", { x: 1, y: 2 });
// @ts-expect-error a message type is a string
ns.send(42, {});

async function create(): Promise<Bubble | null> {
  try {
    return await ns.request<Bubble>("bubble-create", { x: 1, y: 2, text: "hi", color: "#ff0000" }, { timeout: 5_000 });
  } catch (error) {
    if (error instanceof WsnsError && (error.code === "conflict" || error.code === "timeout")) {
      console.log(error.message, error.details);
      return null;
    }
    throw error;
  }
}
void create();
ns.close();
