// OffsetTracker: remembers offset and epoch, drops duplicates, decides who asks for resync.
import assert from "node:assert/strict";
import { test } from "node:test";
import { OffsetTracker } from "./internals.js";

const welcomeAt = (offset, epoch = "e1", extra = {}) => ({ client_id: "c", position: { offset, epoch }, ...extra });

test("without history there is no position and no recovery query", () => {
  const offsets = new OffsetTracker();
  offsets.welcome({ client_id: "c" }, false);
  assert.equal(offsets.position, null);
  assert.deepEqual(offsets.query(), {});
});

test("the welcome's position is where the client starts", () => {
  const offsets = new OffsetTracker();
  offsets.welcome(welcomeAt(41), false);
  assert.deepEqual(offsets.position, { offset: 41, epoch: "e1" });
  assert.deepEqual(offsets.query(), { since: "41", epoch: "e1" });
});

test("every broadcast's offset moves the position", () => {
  const offsets = new OffsetTracker();
  offsets.welcome(welcomeAt(41), false);
  assert.equal(offsets.accept({ type: "x", offset: 42 }), true);
  assert.equal(offsets.accept({ type: "x", offset: 43 }), true);
  assert.deepEqual(offsets.query(), { since: "43", epoch: "e1" });
});

test("a frame whose offset it already has is dropped", () => {
  const offsets = new OffsetTracker();
  offsets.welcome(welcomeAt(10), false);
  assert.equal(offsets.accept({ type: "x", offset: 10 }), false);
  assert.equal(offsets.accept({ type: "x", offset: 11 }), true);
  assert.equal(offsets.accept({ type: "x", offset: 11 }), false);
  assert.equal(offsets.accept({ type: "x", offset: 3 }), false);
  assert.equal(offsets.position.offset, 11);
});

test("frames without an offset always pass and change nothing", () => {
  const offsets = new OffsetTracker();
  offsets.welcome(welcomeAt(5), false);
  for (const frame of [{ type: "reply" }, { type: "x", offset: null }, { type: "x", offset: "7" }, { type: "x", offset: 6.5 }]) {
    assert.equal(offsets.accept(frame), true);
  }
  assert.equal(offsets.position.offset, 5);
});

test("a recovered reconnect keeps the client's offset, so the missed frames are taken", () => {
  const offsets = new OffsetTracker();
  offsets.welcome(welcomeAt(10), false);
  offsets.accept({ type: "x", offset: 12 });
  // The server is at 20 now; 13..20 follow the welcome.
  assert.equal(offsets.welcome(welcomeAt(20, "e1", { recovered: true }), true), false);
  assert.deepEqual(offsets.position, { offset: 12, epoch: "e1" });
  assert.equal(offsets.accept({ type: "x", offset: 13 }), true);
});

test("a failed recovery starts from the server's position; the server sends its own resync", () => {
  const offsets = new OffsetTracker();
  offsets.welcome(welcomeAt(10), false);
  assert.equal(offsets.welcome(welcomeAt(3, "e2", { recovered: false }), true), false);
  assert.deepEqual(offsets.position, { offset: 3, epoch: "e2" });
  assert.equal(offsets.accept({ type: "x", offset: 4 }), true);
});

test("a reconnect that could not ask for recovery needs a client-side resync", () => {
  const offsets = new OffsetTracker();
  assert.equal(offsets.welcome({ client_id: "c" }, false), false, "first connect: nothing missed");
  assert.equal(offsets.welcome({ client_id: "c" }, true), true, "v1 server or no history");
  // History appeared (server upgraded): the client had nothing to recover from.
  assert.equal(offsets.welcome(welcomeAt(9), true), true);
  assert.deepEqual(offsets.position, { offset: 9, epoch: "e1" });
});

test("a reconnect to a namespace without history forgets the old position", () => {
  const offsets = new OffsetTracker();
  offsets.welcome(welcomeAt(9), false);
  offsets.welcome({ client_id: "c" }, true);
  assert.equal(offsets.position, null);
  assert.deepEqual(offsets.query(), {});
});

test("a malformed position is ignored", () => {
  const offsets = new OffsetTracker();
  for (const position of [{ offset: "1", epoch: "e" }, { offset: 1 }, { epoch: "e" }, null, 7]) {
    offsets.welcome({ position }, false);
    assert.equal(offsets.position, null);
  }
});

test("a resync into a new epoch moves the position back, so the new frames are kept", () => {
  const offsets = new OffsetTracker();
  offsets.welcome(welcomeAt(40), false);
  assert.equal(offsets.accept({ type: "x", offset: 41 }), true);
  offsets.moved({ offset: 0, epoch: "e2" });
  assert.equal(offsets.accept({ type: "x", offset: 1 }), true);
  assert.deepEqual(offsets.query(), { since: "1", epoch: "e2" });
  offsets.moved(undefined); // a resync without a position changes nothing
  assert.deepEqual(offsets.position, { offset: 1, epoch: "e2" });
});
