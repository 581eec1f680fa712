import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { spawnLineProcess } from "./cluster/line-process.js";

/**
 * What a user does: `npm pack` this repository (its `prepack` builds dist/), `npm install` the tarball into an
 * empty project — a plain install, so any install script or peer dependency of the package runs as it would for
 * them — and run a two-node cluster program on it, one process per node, as in the README's cluster snippet.
 */

const root = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

/**
 * The environment without what `npm test` passes on to its children: npm exports its config of this repository
 * (`npm_config_legacy_peer_deps` from .npmrc, the local prefix, …), which would make the install no longer the
 * user's. The user's and the machine's npm config files (and cache) still apply.
 */
function userEnv(): NodeJS.ProcessEnv {
  const keep = new Set(["npm_config_cache", "npm_config_userconfig", "npm_config_globalconfig", "npm_config_cafile", "npm_config_registry"]);
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key) || keep.has(key.toLowerCase())));
}

const COUNTER = `
import * as pul from "pulsing";
export const Counter = pul.remote(class Counter {
  constructor(value = 0) { this.value = value; }
  incr() { return ++this.value; }
  async *count(to) { for (let i = 1; i <= to; i++) yield i; }
});
`;

/** The first node: a seed on 127.0.0.1 hosting a named counter; stops when its stdin closes. */
const SEED = `
import * as pul from "pulsing";
import { Counter } from "./counter.mjs";
await pul.init({ addr: "127.0.0.1:0" });
await Counter.spawn({ name: "install-check/counter", args: [10] });
console.log(JSON.stringify({ nodeId: pul.getSystem().nodeId, addrs: pul.getSystem().addrs }));
process.stdin.on("end", () => pul.shutdown().then(() => process.exit(0)));
process.stdin.resume();
`;

/** The second node: joins through the seed ("host:port"), resolves the counter, calls it and streams from it. */
const JOIN = `
import * as pul from "pulsing";
import { loadOrCreatePrivateKey } from "pulsing/node";
import { Counter } from "./counter.mjs";
await pul.init({ addr: "127.0.0.1:0", seeds: [process.argv[2]] });
const counter = await Counter.resolve("install-check/counter", { timeout: 10_000 });
const values = [await counter.incr(), await counter.incr()];
const streamed = [];
for await (const n of counter.count(3)) streamed.push(n);
console.log(JSON.stringify({
  values,
  streamed,
  servedBy: counter.ref.actorId.nodeId,
  self: pul.getSystem().nodeId,
  runtime: pul.getSystem().runtime,
  nodeEntry: typeof loadOrCreatePrivateKey,
}));
await pul.shutdown();
`;

describe("the packed package installed into an empty project", () => {
  it("packs (prepack builds dist/), installs with a plain npm install, and runs a two-node program", { timeout: 600_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "pulsing-install-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const timings: string[] = [];
    const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
      const started = Date.now();
      const result = await step();
      timings.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return result;
    };

    await timed("npm pack", () => run("npm", ["pack", "--pack-destination", dir], { cwd: root, maxBuffer: 16 << 20 }));
    const tarball = readdirSync(dir).find((name) => name.endsWith(".tgz"));
    assert.ok(tarball !== undefined, `npm pack left no tarball in ${dir}: ${readdirSync(dir).join(", ")}`);

    const project = join(dir, "app");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), `${JSON.stringify({ name: "app", private: true, type: "module" }, null, 2)}\n`);
    await timed("npm install", () =>
      run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", join(dir, tarball)], { cwd: project, env: userEnv(), maxBuffer: 16 << 20 }),
    );
    writeFileSync(join(project, "counter.mjs"), COUNTER);
    writeFileSync(join(project, "seed.mjs"), SEED);
    writeFileSync(join(project, "join.mjs"), JOIN);

    const env = userEnv();
    await timed("two-node program", async () => {
      const seed = spawnLineProcess(process.execPath, ["seed.mjs"], project, "the seed node");
      try {
        const ready = (await seed.next(30_000)) as { nodeId: string; addrs: string[] };
        const tcp = ready.addrs.map((addr) => /^\/ip4\/127\.0\.0\.1\/tcp\/(\d+)\/p2p\//.exec(addr)).find((match) => match !== null);
        assert.ok(tcp, `the seed listens on no TCP address of 127.0.0.1: ${ready.addrs.join(", ")}`);
        const { stdout } = await run(process.execPath, ["join.mjs", `127.0.0.1:${tcp[1]}`], { cwd: project, env, timeout: 60_000 });
        const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
        assert.deepEqual(result.values, [11, 12], "two calls of the remote counter");
        assert.deepEqual(result.streamed, [1, 2, 3], "a stream from the remote counter");
        assert.equal(result.servedBy, ready.nodeId, "the counter the joining node resolved lives on the seed");
        assert.notEqual(result.self, ready.nodeId, "two nodes, not one");
        assert.equal(result.runtime, "node");
        assert.equal(result.nodeEntry, "function", "pulsing/node resolves from the installed package");
      } finally {
        await seed.stop();
      }
    });

    // the bin is a symlink in node_modules/.bin: cli.js must still know it is the program (it did not, at first)
    const { stderr } = await timed("pulsing help", () => run(join(project, "node_modules/.bin/pulsing"), ["help"], { cwd: project, env }));
    assert.match(stderr, /usage:\n\s+pulsing seed/, "the installed `pulsing` command prints its usage");
    t.diagnostic(timings.join(", "));
  });
});
