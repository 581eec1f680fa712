#!/usr/bin/env node
/**
 * `npm test`: type-check everything (the type-level tests in test/types are compile-time assertions), run the
 * test files with Node's test runner on the TypeScript sources, then the browser end-to-end tests (e2e/run.mjs:
 * Playwright Test, after installing Debian chromium and the Deno runtime when they are missing).
 *
 *   npm test                        all of it
 *   npm test -- --unit              without the browser end-to-end tests (npm run test:unit)
 *   npm test -- test/api.test.ts    only the named files (type-check still runs; no e2e)
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, normalize } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const run = (cmd, args) => {
  const result = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
};

const findTests = (dir) =>
  readdirSync(join(root, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(root, path)).isDirectory()) return findTests(path);
    return name.endsWith(".test.ts") ? [path] : [];
  });

const args = process.argv.slice(2);
const unitOnly = args.includes("--unit");
const requested = args.filter((a) => !a.startsWith("--"));
const files = requested.length > 0 ? requested.map((file) => normalize(file)) : findTests("test").sort();

console.log("› type-check (tsc)");
run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"]);

// The runner's timeout also bounds each file as a whole: files whose own deadlines are longer run on their own.
const LONG_FILES = new Map([
  ["test/scale.test.ts", 480_000],
  ["test/package-install.test.ts", 600_000], // npm pack + a plain npm install of the tarball: 1–3 min on 2 busy cores
]);
const runTests = (list, timeoutMs) =>
  run(process.execPath, [
    "--conditions=pulsing-source",
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=1", // multi-process and browser tests measure timing: they must not compete for the 2 cores
    `--test-timeout=${timeoutMs}`,
    `--test-reporter=${process.env.TEST_REPORTER ?? "spec"}`,
    ...list,
  ]);

const regular = files.filter((file) => !LONG_FILES.has(file));
console.log(`› ${files.length} test files`);
if (regular.length > 0) runTests(regular, 120_000);
for (const file of files.filter((file) => LONG_FILES.has(file))) runTests([file], LONG_FILES.get(file));

if (!unitOnly && requested.length === 0) {
  console.log("› browser end-to-end tests (e2e/run.mjs: Playwright Test)");
  run(process.execPath, [join(root, "e2e/run.mjs")]);
}
