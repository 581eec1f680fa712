import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build, type Rollup } from "vite";
import { BROWSER_CONDITIONS, forbidNodeBuiltins } from "../scripts/vite-shared.js";

const entry = fileURLToPath(new URL("../src/index.ts", import.meta.url));
/** `pulsing/node` as browser builds resolve it (the `browser` export condition). */
const nodeEntryForBrowsers = fileURLToPath(new URL("../src/browser/index.ts", import.meta.url));

async function bundle(entry: string): Promise<string> {
  const result = (await build({
    configFile: false,
    logLevel: "silent",
    resolve: { conditions: BROWSER_CONDITIONS },
    plugins: [forbidNodeBuiltins()],
    build: { write: false, target: "es2022", minify: false, lib: { entry, formats: ["es"], fileName: "bundle" } },
  })) as Rollup.RollupOutput[] | Rollup.RollupOutput;
  return (Array.isArray(result) ? result : [result]).flatMap((r) => r.output).map((o) => ("code" in o ? o.code : "")).join("\n");
}

describe("isomorphic core", () => {
  it("bundles pulsing/node's browser entry (Web Workers, subprocess) without any Node built-in", async () => {
    const code = await bundle(nodeEntryForBrowsers);
    assert.doesNotMatch(code, /from\s+["']node:/);
    assert.match(code, /initInsideWorker/);
    assert.match(code, /DedicatedWorkerGlobalScope/, "the Web Worker entry points, not Node's");
  });

  it("bundles the public entry for the browser without any Node built-in", async () => {
    const result = (await build({
      configFile: false,
      logLevel: "silent",
      resolve: { conditions: BROWSER_CONDITIONS },
      plugins: [forbidNodeBuiltins()],
      build: {
        write: false,
        target: "es2022",
        minify: false,
        lib: { entry, formats: ["es"], fileName: "pulsing" },
      },
    })) as Rollup.RollupOutput[] | Rollup.RollupOutput;
    const outputs = (Array.isArray(result) ? result : [result]).flatMap((r) => r.output);
    const code = outputs.map((o) => ("code" in o ? o.code : "")).join("\n");
    assert.ok(code.length > 10_000, "the bundle is suspiciously small");
    assert.doesNotMatch(code, /from\s+["']node:/);
    assert.doesNotMatch(code, /AsyncLocalStorage/);
    assert.match(code, /PulsingRuntimeError/);
  });
});
