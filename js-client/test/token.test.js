// v1.2: the token in Sec-WebSocket-Protocol, refresh before expiry, 4001, a failing token function.
import assert from "node:assert/strict";
import { test } from "node:test";
import { subprotocols, refreshDelay } from "./internals.js";
import { ScriptedSocket, scripted, settled } from "./scripted.js";

test("the token travels base64url (UTF-8, no padding) after wsns.v1, never in the URL", () => {
  assert.deepEqual(subprotocols("a/b+c=dé"), ["wsns.v1", "wsns.token.YS9iK2M9ZMOp"]);
  assert.equal(subprotocols(undefined), null);
});

test("a refresh goes out a quarter of the lifetime before expiry, at most 30 s before", () => {
  assert.equal(refreshDelay(2), 1.5);
  assert.equal(refreshDelay(300), 270);
});

test("a token function is called before every attempt and its token offered, the URL left alone", async (t) => {
  let calls = 0;
  const { ns, socket } = await scripted(t, { token: async () => `t${++calls}` });
  assert.deepEqual(socket().protocols, subprotocols("t1"));
  assert.ok(!socket().url.includes("t1"));
  socket().serverCloses(1006, "");
  t.mock.timers.tick(60_000);
  await settled();
  assert.deepEqual(socket().protocols, subprotocols("t2"));
  ns.close();
});

test("before expiry the client sends refresh with a fresh token, and again after the reply", async (t) => {
  let calls = 0;
  const { ns, socket } = await scripted(t, { token: () => `t${++calls}` });
  socket().frame({ type: "welcome", data: { client_id: "c1", expires_in: 2 } });
  t.mock.timers.tick(1499);
  await settled();
  assert.deepEqual(socket().sent, []);
  t.mock.timers.tick(1);
  await settled();
  const [refresh] = socket().sent;
  assert.deepEqual([refresh.type, refresh.data, refresh.key], ["refresh", { token: "t2" }, undefined]);
  socket().frame({ type: "reply", id: refresh.id, data: { expires_in: 2 } });
  await settled();
  t.mock.timers.tick(1500);
  await settled();
  assert.deepEqual(socket().sent.map((f) => f.data.token), ["t2", "t3"]);
  ns.close();
});

test("a 4001 close (expired, or a refused refresh) reconnects with a fresh token", async (t) => {
  let calls = 0;
  const { ns, socket } = await scripted(t, { token: () => `t${++calls}` });
  socket().frame({ type: "welcome", data: { client_id: "c1", expires_in: 60 } });
  socket().serverCloses(4001, "expired");
  assert.equal(ns.state, "reconnecting");
  t.mock.timers.tick(60_000);
  await settled();
  assert.equal(ScriptedSocket.opened.length, 2);
  assert.deepEqual(socket().protocols, subprotocols("t2"));
  socket().serverCloses(4401, "expired");
  assert.equal(ns.state, "denied", "a refused fresh token stops it: no loop");
});

test("a token function that fails before a refresh stops the client for good", async (t) => {
  let calls = 0;
  const { ns, socket } = await scripted(t, {
    token: () => {
      calls += 1;
      if (calls > 1) throw new Error("token service down");
      return "t1";
    },
  });
  socket().frame({ type: "welcome", data: { client_id: "c1", expires_in: 2 } });
  t.mock.timers.tick(1500);
  await settled();
  assert.equal(ns.state, "closed");
  assert.equal(ns.reason.reason, "token_failed");
  assert.match(ns.reason.message, /token service down/);
  t.mock.timers.tick(120_000);
  await settled();
  assert.equal(ScriptedSocket.opened.length, 1, "no reconnect");
});

test("a token function that fails at an attempt stops the client too", async (t) => {
  const { ns } = await scripted(t, { token: async () => { throw new Error("down"); } });
  assert.equal(ns.state, "closed");
  assert.equal(ns.reason.reason, "token_failed");
  assert.equal(ScriptedSocket.opened.length, 0);
});
