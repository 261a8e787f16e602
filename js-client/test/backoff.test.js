// Backoff: exponential caps with full jitter, reset after a stable connection.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Backoff, retryHint } from "./internals.js";

test("delays are random below a cap that doubles up to max", () => {
  const backoff = new Backoff({ base: 100, max: 1000, factor: 2 }, { random: () => 0.999999 });
  const delays = Array.from({ length: 6 }, () => backoff.next());
  assert.deepEqual(delays, [99, 199, 399, 799, 999, 999]);
  assert.equal(backoff.failures, 6);
});

test("full jitter: a random of zero gives no delay at all", () => {
  const backoff = new Backoff({ base: 100 }, { random: () => 0 });
  assert.equal(backoff.next(), 0);
  assert.equal(backoff.next(), 0);
});

test("defaults are 500 ms growing by 2 up to 20 s", () => {
  const backoff = new Backoff(undefined, { random: () => 0.999999 });
  const delays = Array.from({ length: 8 }, () => backoff.next());
  assert.deepEqual(delays, [499, 999, 1999, 3999, 7999, 15999, 19999, 19999]);
});

test("reset starts again from the first cap", () => {
  const backoff = new Backoff({ base: 100 }, { random: () => 0.999999 });
  backoff.next();
  backoff.next();
  backoff.reset();
  assert.equal(backoff.failures, 0);
  assert.equal(backoff.next(), 99);
});

test("a connection that stayed open stableAfter ms resets the count", () => {
  let now = 0;
  const backoff = new Backoff({ base: 100 }, { stableAfter: 1000, random: () => 0.5, now: () => now });
  backoff.next();
  backoff.next();
  backoff.opened();
  now = 1000;
  backoff.closed();
  assert.equal(backoff.failures, 0);
});

test("a connection dropped soon after its welcome keeps the count", () => {
  let now = 0;
  const backoff = new Backoff({ base: 100 }, { stableAfter: 1000, random: () => 0.5, now: () => now });
  backoff.next();
  backoff.next();
  backoff.opened();
  now = 999;
  backoff.closed();
  assert.equal(backoff.failures, 2);
  // closed() without a welcome in between (a failed attempt) changes nothing either.
  now = 5000;
  backoff.closed();
  assert.equal(backoff.failures, 2);
});

test("a server's retry hint comes before the jitter, which is added to it", () => {
  const backoff = new Backoff({ base: 100 }, { random: () => 0.5 });
  assert.equal(backoff.next(3000), 3050);
  assert.equal(backoff.failures, 1);
});

test("only a 1013 ending in '; retry_after=N' carries a hint (ms)", () => {
  assert.equal(retryHint(1013, "too many connections per second on this instance; retry_after=4"), 4000);
  assert.equal(retryHint(1013, "retry_after=2"), 2000);
  assert.equal(retryHint(1013, "too many connections per second: retry in 4 s"), 0);  // an older server
  assert.equal(retryHint(1013, "slow consumer"), 0);
  assert.equal(retryHint(1011, "oops; retry_after=4"), 0);
  assert.equal(retryHint(1013, "x; retry_after=4 s"), 0);
  assert.equal(retryHint(1013, undefined), 0);
});
