// The npm package: its version follows the Python package's, and its name resolves to the client.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";

const read = (path) => readFileSync(new URL(path, import.meta.url), "utf8");
const pkg = JSON.parse(read("../package.json"));

test("the version equals pyproject.toml's", () => {
  const [, version] = read("../../pyproject.toml").match(/^version\s*=\s*"([^"]+)"/m);
  assert.equal(pkg.version, version);
});

test("the package name resolves to wsns.js through exports", async () => {
  const byName = await import(pkg.name);
  const byPath = await import("../wsns.js");
  assert.equal(byName.connect, byPath.connect);
  assert.equal(typeof byName.WsnsError, "function");
});

test("the module exports its public API only: the parts stay private (test/internals.js)", async () => {
  const exported = Object.keys(await import("../wsns.js")).sort();
  assert.deepEqual(exported, ["Namespace", "WsnsError", "connect"]);
});

test("the packed tarball holds the client, its types, and nothing else of ours", () => {
  const [packed] = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: new URL("..", import.meta.url), encoding: "utf8", env: { ...process.env, npm_config_loglevel: "silent" },
  }));
  const files = packed.files.map((file) => file.path).sort();
  assert.deepEqual(files, ["README.md", "package.json", "wsns.d.ts", "wsns.js"]);
});
