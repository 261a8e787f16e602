// Heartbeat: pings on an interval, declares the connection dead when a ping gets no frame.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Heartbeat } from "./internals.js";

function heartbeat(t, options) {
  t.mock.timers.enable();
  const calls = { pings: [], dead: [] };
  const beat = new Heartbeat(options, {
    ping: (n) => calls.pings.push(n),
    dead: (message) => calls.dead.push(message),
  });
  return { beat, calls };
}

test("pings every interval given by the server's heartbeat_interval (seconds)", (t) => {
  const { beat, calls } = heartbeat(t, {});
  beat.start(2);
  t.mock.timers.tick(1999);
  assert.deepEqual(calls.pings, []);
  t.mock.timers.tick(1);
  assert.deepEqual(calls.pings, [1]);
  beat.alive();
  t.mock.timers.tick(2000);
  assert.deepEqual(calls.pings, [1, 2]);
  assert.deepEqual(calls.dead, []);
});

test("no frame within the timeout after a ping: dead", (t) => {
  const { beat, calls } = heartbeat(t, { interval: 1000, timeout: 300 });
  beat.start(20);
  t.mock.timers.tick(1000);
  assert.deepEqual(calls.pings, [1]);
  t.mock.timers.tick(299);
  assert.deepEqual(calls.dead, []);
  t.mock.timers.tick(1);
  assert.deepEqual(calls.dead, ["no answer within 300 ms"]);
});

test("the timeout defaults to the interval, at most 10 s", (t) => {
  const { beat, calls } = heartbeat(t, {});
  beat.start(30);
  t.mock.timers.tick(30_000);
  t.mock.timers.tick(9_999);
  assert.deepEqual(calls.dead, []);
  t.mock.timers.tick(1);
  assert.equal(calls.dead.length, 1);
});

test("without a server interval it pings every 20 s", (t) => {
  const { beat, calls } = heartbeat(t, {});
  beat.start(0);
  t.mock.timers.tick(20_000);
  assert.deepEqual(calls.pings, [1]);
});

test("check pings now, but not while a ping is still unanswered", (t) => {
  const { beat, calls } = heartbeat(t, { interval: 1000 });
  beat.start();
  beat.check();
  beat.check();
  assert.deepEqual(calls.pings, [1]);
  beat.alive();
  beat.check();
  assert.deepEqual(calls.pings, [1, 2]);
});

test("stop leaves no timer running", (t) => {
  const { beat, calls } = heartbeat(t, { interval: 100, timeout: 50 });
  beat.start();
  t.mock.timers.tick(100);
  beat.stop();
  t.mock.timers.tick(10_000);
  assert.deepEqual(calls.pings, [1]);
  assert.deepEqual(calls.dead, []);
});

test("false disables it", (t) => {
  const { beat, calls } = heartbeat(t, false);
  beat.start(1);
  beat.check();
  t.mock.timers.tick(60_000);
  assert.deepEqual(calls, { pings: [], dead: [] });
});
