// attemptUrl: the app's query and the client's recovery parameters on the upgrade URL.
import assert from "node:assert/strict";
import { test } from "node:test";
import { attemptUrl } from "./internals.js";

const BASE = "ws://example.test/ws/room/1";

test("the app's query is added, values as strings, null and undefined left out", () => {
  const url = new URL(attemptUrl(BASE, { token: "a b&c", n: 3, yes: true, none: null, gone: undefined }, {}));
  assert.deepEqual(Object.fromEntries(url.searchParams), { token: "a b&c", n: "3", yes: "true" });
  assert.equal(url.pathname, "/ws/room/1");
});

test("no query gives the base URL", () => {
  assert.equal(attemptUrl(BASE, undefined, {}), BASE);
  assert.equal(attemptUrl(BASE, null, {}), BASE);
});

test("the recovery parameters are added", () => {
  const url = new URL(attemptUrl(BASE, { token: "t" }, { since: "42", epoch: "ep" }));
  assert.deepEqual(Object.fromEntries(url.searchParams), { token: "t", since: "42", epoch: "ep" });
});

test("since and epoch are reserved: the app's are never sent, the client's win", () => {
  const base = `${BASE}?since=1&epoch=path&keep=1`;
  const without = new URL(attemptUrl(base, { since: 5, epoch: "app" }, {}));
  assert.deepEqual(Object.fromEntries(without.searchParams), { keep: "1" });
  const withOwn = new URL(attemptUrl(base, { since: 5, epoch: "app" }, { since: "9", epoch: "ep" }));
  assert.deepEqual(Object.fromEntries(withOwn.searchParams), { keep: "1", since: "9", epoch: "ep" });
});

test("a query parameter already in the path is overridden by the option", () => {
  const url = new URL(attemptUrl(`${BASE}?token=old`, { token: "new" }, {}));
  assert.deepEqual([...url.searchParams], [["token", "new"]]);
});
