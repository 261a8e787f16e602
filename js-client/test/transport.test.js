// v1.2 transports: "auto" falls back to SSE + POST; the app's code and events stay the same.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EventStreamParser, TransportChoice, TRANSPORT_KEY, sseUrl } from "./internals.js";
import { ScriptedSocket, scripted, settled } from "./scripted.js";
import { ScriptedSse, flushed, tabStorage } from "./scripted-sse.js";

const WELCOME = { type: "welcome", data: { client_id: "c1", client_token: "signed.c1", position: { offset: 4, epoch: "e1" } } };

/** Let the retry timer run and the next attempt start. */
async function nextAttempt(t) {
  t.mock.timers.tick(60_000);
  await settled();
  await flushed();
}

test("auto moves to SSE after two WebSocket attempts that never opened, and remembers it for the tab", () => {
  const storage = new Map();
  const tab = { getItem: (k) => storage.get(k) ?? null, setItem: (k, v) => storage.set(k, v) };
  const choice = new TransportChoice("auto", tab);
  assert.equal(choice.current, "websocket");
  choice.failed("websocket");
  assert.equal(choice.current, "websocket", "one refused attempt may be a restarting server");
  choice.failed("websocket");
  assert.equal(choice.current, "sse");
  assert.equal(storage.get(TRANSPORT_KEY), "sse");
  assert.equal(new TransportChoice("auto", tab).current, "sse", "the next page of the tab starts with SSE");
});

test("a WebSocket that opened once is never given up for SSE: later drops are only drops", () => {
  const choice = new TransportChoice("auto", null);
  choice.opened("websocket");
  for (let i = 0; i < 5; i += 1) choice.failed("websocket");
  assert.equal(choice.current, "websocket");
});

test("a forced transport never changes, and ignores what the tab remembered", () => {
  const tab = { getItem: () => "sse", setItem: () => assert.fail("nothing to remember") };
  const choice = new TransportChoice("websocket", tab);
  for (let i = 0; i < 5; i += 1) choice.failed("websocket");
  assert.equal(choice.current, "websocket");
  assert.equal(new TransportChoice("sse", null).current, "sse");
  assert.throws(() => new TransportChoice("long-polling", null), TypeError);
});

test("a storage that throws (privacy mode) still lets the fallback happen for the connection", () => {
  const tab = { getItem: () => { throw new Error("denied"); }, setItem: () => { throw new Error("denied"); } };
  const choice = new TransportChoice("auto", tab);
  choice.failed("websocket");
  choice.failed("websocket");
  assert.equal(choice.current, "sse");
});

test("the SSE URL puts the prefix before the path, on the page's scheme", () => {
  assert.equal(sseUrl("wss://app.example/ws/room/1?x=1", "/wsns/sse"), "https://app.example/wsns/sse/ws/room/1?x=1");
  assert.equal(sseUrl("ws://app.example:8000/ws/room/1", "/sse/"), "http://app.example:8000/sse/ws/room/1");
});

test("the event-stream parser takes events split anywhere, joins data lines, and reports comments", () => {
  const events = [];
  let comments = 0;
  const parser = new EventStreamParser((data) => events.push(data), () => { comments += 1; });
  const text = ": ping\r\n\r\nevent: said\nid: e1:5\ndata: {\"type\":\"said\",\ndata: \"offset\":5}\n\n";
  for (const char of text) parser.feed(char);
  assert.deepEqual(events, ['{"type":"said",\n"offset":5}']);
  assert.equal(comments, 1);
});

test("over SSE the app sees the same events, and its requests go as POSTs naming the stream's client", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  server.answer = (frame) => ({
    status: 200,
    body: { reply: { type: "reply", id: frame.id, data: { ok: true } }, frames: [{ type: "note", data: "to you" }] },
  });
  const { ns } = await scripted(t, { transport: "sse", token: "tok" });
  await flushed();
  assert.equal(ScriptedSocket.opened.length, 0, "no WebSocket at all");
  assert.equal(server.stream.url.pathname, "/wsns/sse/ws/room/1");
  assert.equal(server.stream.headers.Authorization, "Bearer tok");
  const seen = [];
  ns.on("said", (data) => seen.push(data));
  ns.on("note", (data) => seen.push(data));
  server.stream.frame(WELCOME);
  server.stream.frame({ type: "said", data: "hello", offset: 5 });
  await flushed();
  assert.equal(ns.state, "open");
  assert.equal(ns.transport, "sse");
  assert.deepEqual(ns.position, { offset: 5, epoch: "e1" });
  const reply = await ns.request("say", { text: "hi" });
  assert.deepEqual(reply, { ok: true });
  const [post] = server.posts;
  assert.equal(post.url.pathname, "/wsns/sse/ws/room/1");
  assert.equal(post.headers["X-Wsns-Client"], "signed.c1");
  assert.equal(post.headers.Authorization, "Bearer tok");
  assert.deepEqual([post.frame.type, post.frame.data], ["say", { text: "hi" }]);
  assert.match(post.frame.key, /^[0-9a-f]{32}$/);
  assert.deepEqual(seen, ["hello", "to you"]);
  ns.close();
  assert.ok(server.stream.aborted, "close() ends the stream");
});

test("auto: a namespace whose WebSocket opened once never falls back, however often it drops", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  const { ns, socket } = await scripted(t);
  socket().frame(WELCOME);
  socket().serverCloses(1006, "");
  ScriptedSocket.refusing = true;
  for (let i = 0; i < 3; i += 1) await nextAttempt(t);
  assert.equal(ScriptedSocket.opened.length, 4);
  assert.equal(server.streams.length, 0);
  ns.close();
});

test("auto: a proxy that refuses upgrades gets SSE on the third attempt, remembered, and it recovers from the last offset", async (t) => {
  const storage = tabStorage(t);
  const server = new ScriptedSse(t);
  const { ns } = await scripted(t, { refusing: true });
  const states = [];
  ns.on("state", (state) => states.push(state));
  assert.equal(ScriptedSocket.opened.length, 1);
  await nextAttempt(t);
  assert.equal(ScriptedSocket.opened.length, 2);
  assert.equal(storage.get(TRANSPORT_KEY), "sse");
  await nextAttempt(t);
  assert.equal(ScriptedSocket.opened.length, 2, "no third WebSocket");
  assert.equal(server.streams.length, 1);
  server.stream.frame(WELCOME);
  server.stream.frame({ type: "said", data: "one", offset: 5 });
  await flushed();
  assert.equal(ns.state, "open");
  assert.deepEqual(states, ["open"], "reconnecting all along, then open: the app saw no other change");
  server.stream.end();
  await flushed();
  assert.equal(ns.state, "reconnecting", "a stream that ends is a dropped connection");
  await nextAttempt(t);
  assert.equal(server.streams.length, 2);
  assert.equal(server.stream.url.searchParams.get("since"), "5");
  assert.equal(server.stream.url.searchParams.get("epoch"), "e1");
  ns.close();
});

test("a refused stream (401) is a denial, as a 4401 close: no retry", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  server.refuse = { status: 401, body: { code: "unauthenticated", message: "sign in" } };
  const { ns } = await scripted(t, { transport: "sse" });
  await flushed();
  assert.equal(ns.state, "denied");
  assert.deepEqual(ns.reason, { reason: "unauthenticated", code: 4401, message: "sign in" });
  await nextAttempt(t);
  assert.equal(server.streams.length, 0);
});

test("a POST that fails with a 5xx drops the connection; the keyed request goes again, same key, after the reconnect", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  let down = true;
  server.answer = (frame) => (down
    ? { status: 502, body: undefined }
    : { status: 200, body: { reply: { type: "reply", id: frame.id, data: "made" }, frames: [] } });
  const { ns } = await scripted(t, { transport: "sse", requestTimeout: 0 });
  await flushed();
  server.stream.frame(WELCOME);
  await flushed();
  const reply = ns.request("make", {});
  await flushed();
  assert.equal(ns.state, "reconnecting");
  assert.ok(server.streams[0].aborted);
  down = false;
  await nextAttempt(t);
  server.stream.frame({ ...WELCOME, data: { ...WELCOME.data, client_token: "signed.c2" } });
  await flushed();
  assert.equal(await reply, "made");
  const [first, again] = server.posts;
  assert.deepEqual(again.frame, first.frame, "the very same frame: same id, same key");
  assert.equal(again.headers["X-Wsns-Client"], "signed.c2");
  ns.close();
});

test("a POST refused with a 4xx answers that request with the server's error, and the stream stays", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  server.answer = () => ({ status: 429, body: { code: "rate_limited", message: "slow down" } });
  const { ns } = await scripted(t, { transport: "sse" });
  await flushed();
  server.stream.frame(WELCOME);
  await flushed();
  await assert.rejects(ns.request("make", {}), { code: "rate_limited", message: "slow down" });
  const errors = [];
  ns.on("error", (data) => errors.push(data.code));
  ns.send("note", {});
  await flushed();
  assert.deepEqual(errors, ["rate_limited"]);
  assert.equal(ns.state, "open");
  ns.close();
});

test("POSTs go one at a time, in the order they were made", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  const answers = [];
  server.answer = () => new Promise((resolve) => answers.push(resolve));
  const { ns } = await scripted(t, { transport: "sse" });
  await flushed();
  server.stream.frame(WELCOME);
  await flushed();
  ns.send("a", 1);
  ns.send("b", 2);
  await flushed();
  assert.deepEqual(server.posts.map((p) => p.frame.type), ["a"], "b waits for a's answer");
  answers[0]({ status: 200, body: { reply: null, frames: [] } });
  await flushed();
  assert.deepEqual(server.posts.map((p) => p.frame.type), ["a", "b"]);
  ns.close();
});

test("over SSE the server's comments keep the heartbeat content; silence past interval + timeout drops it", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  const { ns } = await scripted(t, { transport: "sse", heartbeat: {} });
  await flushed();
  server.stream.frame({ ...WELCOME, data: { ...WELCOME.data, heartbeat_interval: 10 } });
  await flushed();
  for (let i = 0; i < 3; i += 1) {
    t.mock.timers.tick(10_000);
    server.stream.comment();
    await flushed();
  }
  assert.equal(ns.state, "open");
  assert.equal(server.posts.length, 0, "no ping is POSTed: a stream cannot answer it");
  const states = [];
  ns.on("state", (state, detail) => states.push(detail?.reason));
  t.mock.timers.tick(10_000); // the check: nothing more is sent, it waits for the server
  t.mock.timers.tick(19_999);
  await flushed();
  assert.deepEqual(states, [], "the server may send its comment up to a whole interval late");
  t.mock.timers.tick(1);
  await flushed();
  assert.deepEqual(states, ["heartbeat_timeout"]);
  ns.close();
});

test("an SSE close event is the server's close code: 4410 ends it, 1012 reconnects", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  const { ns } = await scripted(t, { transport: "sse" });
  await flushed();
  server.stream.frame(WELCOME);
  server.stream.frame({ type: "close", data: { code: 1012, reason: "restarting" } });
  await flushed();
  assert.equal(ns.state, "reconnecting");
  await nextAttempt(t);
  server.stream.frame(WELCOME);
  server.stream.frame({ type: "close", data: { code: 4410, reason: "map deleted" } });
  await flushed();
  assert.deepEqual(ns.reason, { reason: "removed", code: 4410, message: "map deleted" });
});

test("a stream refused as expired (401, code expired) reconnects with a fresh token, as after a 4001", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  let calls = 0;
  server.refuse = { status: 401, body: { code: "expired", message: "token expired" } };
  const { ns } = await scripted(t, { transport: "sse", token: () => `t${++calls}` });
  await flushed();
  assert.equal(ns.state, "reconnecting");
  server.refuse = null;
  await nextAttempt(t);
  assert.equal(server.stream.headers.Authorization, "Bearer t2");
  ns.close();
});

test("over SSE no refresh is sent before expiry: the stream ends with 4001 and comes back with a fresh token", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  let calls = 0;
  const { ns } = await scripted(t, { transport: "sse", token: () => `t${++calls}` });
  await flushed();
  server.stream.frame({ ...WELCOME, data: { ...WELCOME.data, expires_in: 2 } });
  await flushed();
  t.mock.timers.tick(2000);
  await flushed();
  assert.deepEqual(server.posts, []);
  server.stream.frame({ type: "close", data: { code: 4001, reason: "expired" } });
  await flushed();
  await nextAttempt(t);
  assert.equal(server.stream.headers.Authorization, "Bearer t2");
  ns.close();
});

test("a stream refused with 400 (a path the pattern refuses) is final, as a 1008 close", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  server.refuse = { status: 400, body: { code: "bad_request", message: "map_id too long" } };
  const { ns } = await scripted(t, { transport: "sse" });
  await flushed();
  assert.deepEqual(ns.reason, { reason: "policy_violation", code: 1008, message: "map_id too long" });
});

test("a POST with no answer within the request timeout ends the attempt; later frames do not wait behind it for ever", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  server.answer = () => new Promise(() => {}); // the instance hangs
  const { ns } = await scripted(t, { transport: "sse", requestTimeout: 5000 });
  await flushed();
  server.stream.frame(WELCOME);
  await flushed();
  const reply = assert.rejects(ns.request("stuck", {}, { retry: false, timeout: 0 }), { code: "disconnected" });
  ns.send("later", {});
  await flushed();
  t.mock.timers.tick(5000);
  await flushed();
  await reply;
  assert.equal(ns.state, "reconnecting");
  server.answer = () => ({ status: 200, body: { reply: null, frames: [] } });
  await nextAttempt(t);
  server.stream.frame(WELCOME);
  await flushed();
  assert.deepEqual(server.posts.map((p) => p.frame.type), ["stuck"], "a send is at most once: lost with its attempt");
  ns.send("after", {});
  await flushed();
  assert.deepEqual(server.posts.map((p) => p.frame.type), ["stuck", "after"]);
  ns.close();
});

test("a POST refused with 401 (the attempt's token ran out) reconnects with a fresh token and sends the keyed request again", async (t) => {
  tabStorage(t);
  const server = new ScriptedSse(t);
  let calls = 0;
  server.answer = (frame) => (server.stream.headers.Authorization === "Bearer t1"
    ? { status: 401, body: { code: "unauthenticated", message: "sign in first" } }
    : { status: 200, body: { reply: { type: "reply", id: frame.id, data: "done" }, frames: [] } });
  const { ns } = await scripted(t, { transport: "sse", token: () => `t${++calls}`, requestTimeout: 0 });
  await flushed();
  server.stream.frame(WELCOME);
  await flushed();
  const reply = ns.request("make", {});
  await flushed();
  assert.equal(ns.state, "reconnecting");
  await nextAttempt(t);
  assert.equal(server.stream.headers.Authorization, "Bearer t2");
  server.stream.frame(WELCOME);
  await flushed();
  assert.equal(await reply, "done");
  assert.deepEqual(server.posts[1].frame, server.posts[0].frame);
  ns.close();
});
