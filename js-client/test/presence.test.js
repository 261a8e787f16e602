// PresenceState: a live Map from presence_state and presence_diff frames.
import assert from "node:assert/strict";
import { test } from "node:test";
import { PresenceState } from "./internals.js";

test("a state fills the Map and reports everyone as joined", () => {
  const presence = new PresenceState();
  const change = presence.reset({ a: { name: "Ann" }, b: { name: "Bob" } }, false);
  assert.deepEqual([...presence.members], [["a", { name: "Ann" }], ["b", { name: "Bob" }]]);
  assert.deepEqual(change, { joins: { a: { name: "Ann" }, b: { name: "Bob" } }, leaves: {} });
  assert.equal(presence.truncated, false);
});

test("diffs add joins and remove leaves, in the same Map", () => {
  const presence = new PresenceState();
  const members = presence.members;
  presence.reset({ a: "Ann" }, false);
  const change = presence.apply({ joins: { b: "Bob", c: "Cy" }, leaves: { a: "Ann" } });
  assert.equal(presence.members, members);
  assert.deepEqual(Object.fromEntries(members), { b: "Bob", c: "Cy" });
  assert.deepEqual(change, { joins: { b: "Bob", c: "Cy" }, leaves: { a: "Ann" } });
});

test("a join of a present id overwrites its value (an update), with no leave", () => {
  const presence = new PresenceState();
  presence.reset({ a: { name: "Ann" } }, false);
  const change = presence.apply({ joins: { a: { name: "Ann", doing: "editing bubble 12" } }, leaves: {} });
  assert.deepEqual(Object.fromEntries(presence.members), { a: { name: "Ann", doing: "editing bubble 12" } });
  assert.deepEqual(change, { joins: { a: { name: "Ann", doing: "editing bubble 12" } }, leaves: {} });
});

test("a client that joined and left within one diff ends up absent", () => {
  const presence = new PresenceState();
  presence.reset({}, false);
  presence.apply({ joins: { x: "X" }, leaves: { x: "X" } });
  assert.equal(presence.members.size, 0);
});

test("a reconnect's state replaces the members and reports the difference", () => {
  const presence = new PresenceState();
  presence.reset({ a: "Ann", old: "Me before" }, false);
  presence.apply({ joins: { b: "Bob" } });
  const change = presence.reset({ a: "Ann", me: "Me now" }, false);
  assert.deepEqual(Object.fromEntries(presence.members), { a: "Ann", me: "Me now" });
  assert.deepEqual(change, { joins: { me: "Me now" }, leaves: { old: "Me before", b: "Bob" } });
});

test("the truncated flag follows the last state", () => {
  const presence = new PresenceState();
  presence.reset({ a: 1 }, true);
  assert.equal(presence.truncated, true);
  presence.reset({ a: 1 }, false);
  assert.equal(presence.truncated, false);
});

test("malformed frames change nothing and do not throw", () => {
  const presence = new PresenceState();
  presence.reset({ a: 1 }, false);
  for (const diff of [null, 7, [], { joins: [1], leaves: "a" }]) {
    assert.deepEqual(presence.apply(diff), { joins: {}, leaves: {} });
  }
  assert.deepEqual(Object.fromEntries(presence.members), { a: 1 });
  presence.reset(null, false);
  assert.equal(presence.members.size, 0);
});
