// The Namespace over a scripted socket: what a server's close or resync frames make it do.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ScriptedSocket, scripted, settled } from "./scripted.js";

const UNMATCHED = "no namespace pattern matches; declared: /ws/rooms/<room_id:int>";

test("a 1008 from the server is final: closed with the server's reason, no reconnect", async (t) => {
  const { ns, socket } = await scripted(t);
  const states = [];
  ns.on("state", (state, detail) => states.push([state, detail]));
  socket().serverCloses(1008, UNMATCHED);
  assert.equal(ns.state, "closed");
  assert.deepEqual(ns.reason, { reason: "policy_violation", code: 1008, message: UNMATCHED });
  assert.deepEqual(states, [["closed", ns.reason]]);
  t.mock.timers.tick(120_000);
  await settled();
  assert.equal(ScriptedSocket.opened.length, 1, "no second attempt");
});

test("a dropped connection (1006) is retried, unlike a 1008", async (t) => {
  const { ns, socket } = await scripted(t);
  socket().serverCloses(1006, "");
  assert.equal(ns.state, "reconnecting");
  t.mock.timers.tick(60_000);
  await settled();
  assert.equal(ScriptedSocket.opened.length, 2);
  ns.close();
});

test("resync frames within the jitter window make one re-fetch, not one each", async (t) => {
  t.mock.method(Math, "random", () => 0.5);
  const { ns, socket } = await scripted(t, { resyncJitter: 2000 });
  const resyncs = [];
  ns.on("resync", (data) => resyncs.push(data.reason));
  socket().frame({ type: "welcome", data: { client_id: "c1" } });
  for (const reason of ["broker_lost", "overflow", "broker_lost"]) {
    socket().frame({ type: "resync", data: { reason } });
  }
  t.mock.timers.tick(999);
  assert.deepEqual(resyncs, []);
  t.mock.timers.tick(1);
  assert.deepEqual(resyncs, ["broker_lost"]);
  t.mock.timers.tick(10_000);
  assert.deepEqual(resyncs, ["broker_lost"], "the later frames were covered by the first");
  socket().frame({ type: "resync", data: { reason: "overflow" } });
  t.mock.timers.tick(1000);
  assert.deepEqual(resyncs, ["broker_lost", "overflow"], "a resync after the window re-fetches again");
  ns.close();
});

test("a request in flight when the connection drops is sent again, with its key, after the reconnect", async (t) => {
  const { ns, socket } = await scripted(t, { requestTimeout: 0 });
  socket().frame({ type: "welcome", data: { client_id: "c1" } });
  const reply = ns.request("bubble-create", { x: 1 });
  const [sent] = socket().sent;
  assert.match(sent.key, /^[0-9a-f]{32}$/);
  socket().serverCloses(1006, "");
  t.mock.timers.tick(60_000);
  await settled();
  socket().frame({ type: "welcome", data: { client_id: "c2" } });
  assert.deepEqual(socket().sent, [sent], "the very same frame: same id, same key");
  socket().frame({ type: "reply", id: sent.id, data: { id: 7 } });
  assert.deepEqual(await reply, { id: 7 });
  ns.close();
});

test("with retry: false a request carries no key and a drop rejects it with disconnected", async (t) => {
  const { ns, socket } = await scripted(t);
  socket().frame({ type: "welcome", data: { client_id: "c1" } });
  const reply = ns.request("bubble-create", { x: 1 }, { retry: false });
  assert.equal(socket().sent[0].key, undefined);
  socket().serverCloses(1006, "");
  await assert.rejects(reply, { code: "disconnected" });
  ns.close();
});

test("a 1013 with the server's retry_after=N hint is retried no earlier than N s, plus jitter", async (t) => {
  t.mock.method(Math, "random", () => 0);  // no jitter: without the hint the retry is at once
  const { ns, socket } = await scripted(t);
  const states = [];
  ns.on("state", (state, detail) => states.push([state, detail.delay]));
  socket().serverCloses(1013, "too many connections per second on this instance; retry_after=3");
  assert.deepEqual(states, [["reconnecting", 3000]]);
  t.mock.timers.tick(2999);
  await settled();
  assert.equal(ScriptedSocket.opened.length, 1, "not before the hint");
  t.mock.timers.tick(1);
  await settled();
  assert.equal(ScriptedSocket.opened.length, 2);
  ns.close();
});

test("a 1013 without a hint (an older server) keeps the plain backoff", async (t) => {
  t.mock.method(Math, "random", () => 0);
  const { ns, socket } = await scripted(t);
  socket().serverCloses(1013, "too many connections");
  t.mock.timers.tick(0);
  await settled();
  assert.equal(ScriptedSocket.opened.length, 2);
  ns.close();
});
