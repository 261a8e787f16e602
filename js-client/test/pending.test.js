// PendingRequests and SendQueue: ids, replies, timeouts, failing on drop and on close.
import assert from "node:assert/strict";
import { mock, test } from "node:test";
import { PendingRequests, SendQueue, WsnsError } from "./internals.js";

const sentLater = { timeout: 0, sent: false, what: "x" };
const sentNow = { timeout: 0, sent: true, what: "x" };

test("ids are positive and never reused", () => {
  const pending = new PendingRequests();
  assert.deepEqual([pending.nextId(), pending.nextId(), pending.nextId()], [1, 2, 3]);
});

test("a reply resolves its request once; a second reply is ignored", async () => {
  const pending = new PendingRequests();
  const reply = pending.track(7, sentNow);
  assert.equal(pending.resolve(7, { ok: 1 }), true);
  assert.equal(pending.resolve(7, { ok: 2 }), false);
  assert.deepEqual(await reply, { ok: 1 });
  assert.equal(pending.size, 0);
});

test("an error reply rejects its request", async () => {
  const pending = new PendingRequests();
  const reply = pending.track(1, sentNow);
  pending.reject(1, new WsnsError("conflict", "stale"));
  await assert.rejects(reply, { code: "conflict" });
});

test("a request without a reply in time rejects with timeout and is cleaned up", async (t) => {
  t.mock.timers.enable();
  const timedOut = [];
  const pending = new PendingRequests((id) => timedOut.push(id));
  const reply = pending.track(1, { timeout: 200, sent: true, what: "slow" });
  t.mock.timers.tick(199);
  assert.equal(pending.size, 1);
  t.mock.timers.tick(1);
  await assert.rejects(reply, { code: "timeout", message: "no reply to slow within 200 ms" });
  assert.deepEqual(timedOut, [1]);
  assert.equal(pending.resolve(1, "late"), false);
});

test("a settled request leaves no timer behind", (t) => {
  t.mock.timers.enable();
  const onTimeout = mock.fn();
  const pending = new PendingRequests(onTimeout);
  pending.track(1, { timeout: 100, sent: true, what: "x" });
  pending.resolve(1, null);
  t.mock.timers.tick(1000);
  assert.equal(onTimeout.mock.callCount(), 0);
});

test("a drop fails the unkeyed requests already written, returns the keyed ones, keeps the held ones", async () => {
  const pending = new PendingRequests();
  const written = pending.track(1, sentNow);
  const held = pending.track(2, sentLater);
  const flushed = pending.track(3, sentLater);
  pending.markSent(3);
  const keyed = pending.track(4, { ...sentNow, resend: '{"type":"x","id":4,"key":"k4"}' });
  const again = pending.dropped(new WsnsError("disconnected", "dropped"));
  assert.deepEqual(again, [{ text: '{"type":"x","id":4,"key":"k4"}', id: 4 }]);
  await assert.rejects(written, { code: "disconnected" });
  await assert.rejects(flushed, { code: "disconnected" });
  assert.equal(pending.size, 2);
  assert.deepEqual(pending.dropped(new WsnsError("disconnected", "dropped")), [], "not sent since: nothing to resend");
  pending.resolve(2, "after reconnect");
  pending.resolve(4, "the first answer");
  assert.equal(await held, "after reconnect");
  assert.equal(await keyed, "the first answer");
});

test("the end fails every request", async () => {
  const pending = new PendingRequests();
  const replies = [pending.track(1, sentNow), pending.track(2, sentLater)];
  pending.rejectAll(new WsnsError("closed", "closed"));
  for (const reply of replies) await assert.rejects(reply, { code: "closed" });
  assert.equal(pending.size, 0);
});

test("the send queue keeps order, is bounded, and forgets a timed-out request", () => {
  const queue = new SendQueue(3);
  queue.push("a");
  queue.push("b", 1);
  queue.push("c");
  assert.throws(() => queue.push("d"), { name: "WsnsError", code: "queue_full" });
  queue.remove(1);
  queue.push("e", 2);
  queue.requeue([{ text: "r", id: 9 }]); // a keyed request sent again: first, and past the limit
  assert.deepEqual(queue.drain(), [{ text: "r", id: 9 }, { text: "a" }, { text: "c" }, { text: "e", id: 2 }]);
  assert.deepEqual(queue.drain(), []);
});
