// The demo page's snapshot-then-replay (demo_app/static/replay.js), which the map page and
// the map list share: events received while a view is on its way are applied on top of it,
// and a re-read asked for while one is on its way runs after it, never beside it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SnapshotReplay } from "../../demo_app/static/replay.js";

/** A page's state: a view replaced whole, events applied by version (as the pages do). */
function page() {
  const shown = { bubbles: new Map(), views: [], failures: [] };
  const replay = new SnapshotReplay({
    show: (view) => {
      shown.views.push(view.name);
      shown.bubbles = new Map(view.bubbles.map((b) => [b.id, b]));
    },
    apply: ({ bubble }) => {
      const current = shown.bubbles.get(bubble.id);
      if (!current || current.version < bubble.version) shown.bubbles.set(bubble.id, bubble);
    },
    failed: (error) => shown.failures.push(error.message),
  });
  return { replay, shown };
}

/** A read whose answer the test gives when it chooses. */
function deferred() {
  let resolve, reject;
  const promise = new Promise((ok, fail) => { resolve = ok; reject = fail; });
  return { promise, resolve, reject };
}

/** `read` for `SnapshotReplay.read`: the n-th call answers with `answers[n]`, and
 * `asked[n]` settles when it is made. */
function reads(count) {
  const answers = Array.from({ length: count }, deferred);
  const asked = Array.from({ length: count }, deferred);
  let made = 0;
  const read = () => {
    asked[made].resolve();
    return answers[made++].promise;
  };
  return { read, answers, asked, made: () => made };
}

const bubble = (id, version) => ({ id, version });

test("an event received while the snapshot is on its way is replayed on top of it", () => {
  const { replay, shown } = page();
  replay.expect();
  replay.event({ bubble: bubble(1, 2) });
  replay.arrived({ name: "snapshot", bubbles: [bubble(1, 1)] });  // read before the change
  assert.equal(shown.bubbles.get(1).version, 2);
});

test("after a recovered welcome nothing is kept for a snapshot that will not come", () => {
  const { replay } = page();
  replay.expect();
  replay.forget();
  replay.event({ bubble: bubble(1, 2) });
  assert.equal(replay.recent, null);
});

test("a re-read shows its answer with the events received meanwhile", async () => {
  const { replay, shown } = page();
  const { read, answers } = reads(1);
  const done = replay.read(read);
  replay.event({ bubble: bubble(1, 3) });
  answers[0].resolve({ name: "read", bubbles: [bubble(1, 2)] });
  await done;
  assert.deepEqual(shown.views, ["read"]);
  assert.equal(shown.bubbles.get(1).version, 3);
  assert.equal(replay.recent, null, "nothing kept once no view is on its way");
});

test("overlapping re-reads run one after the other and the last answer keeps what came during it", async () => {
  const { replay, shown } = page();
  const { read, answers, asked, made } = reads(2);
  const first = replay.read(read);
  await replay.read(read);  // asked while the first is on its way: queued, not sent
  assert.equal(made(), 1);
  answers[0].resolve({ name: "first", bubbles: [bubble(1, 1)] });
  await asked[1].promise;  // the second read starts once the first is shown
  assert.deepEqual(shown.views, ["first"]);
  replay.event({ bubble: bubble(1, 2) });  // broadcast after the second read was answered...
  answers[1].resolve({ name: "second", bubbles: [bubble(1, 1)] });  // ...which is older
  await first;
  assert.deepEqual(shown.views, ["first", "second"]);
  assert.equal(shown.bubbles.get(1).version, 2, "the event was replayed on the second answer");
});

test("a failed read is reported, keeps nothing, and a read asked meanwhile still runs", async () => {
  const { replay, shown } = page();
  const { read, answers, asked } = reads(2);
  const first = replay.read(read);
  await replay.read(read);
  answers[0].reject(new Error("offline"));
  await asked[1].promise;
  assert.deepEqual(shown.failures, ["offline"]);
  answers[1].resolve({ name: "again", bubbles: [] });
  await first;
  assert.deepEqual(shown.views, ["again"]);
  assert.equal(replay.recent, null);
});

test("a closed replay shows and applies nothing, and reads no more", async () => {
  const { replay, shown } = page();
  const { read, answers, made } = reads(2);
  const done = replay.read(read);
  await replay.read(read);
  replay.close();
  answers[0].resolve({ name: "late", bubbles: [bubble(1, 1)] });
  await done;
  replay.event({ bubble: bubble(2, 1) });
  assert.deepEqual(shown.views, []);
  assert.equal(shown.bubbles.size, 0);
  assert.equal(made(), 1, "the read asked before the close is not made");
});
