/**
 * The browser end-to-end tests (e2e/*.e2e.ts) under Playwright Test: `npx playwright test` (after a build: the
 * dashboard in dist/demo, the package in dist/ for the Deno node), or `node e2e/run.mjs` / `npm run test:e2e`,
 * which builds, installs what is missing and, as root, runs this inside a private network namespace.
 */
import module from "node:module";
import { defineConfig } from "@playwright/test";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./e2e/chromium.js";
import { resolve as addSourceCondition } from "./e2e/source-condition.mjs";

// Resolve `pulsing` and `#platform` to src/*.ts, as `node --conditions=pulsing-source` does (e2e/source-condition.mjs).
// Node ≥ 22.15 has in-thread hooks (Playwright then uses them too); Node 20 runs module hooks on a loader thread.
const nodeModule = module as typeof module & { registerHooks?: (hooks: { resolve: typeof addSourceCondition }) => unknown };
if (typeof nodeModule.registerHooks === "function") nodeModule.registerHooks({ resolve: addSourceCondition });
else module.register("./e2e/source-condition.mjs", import.meta.url);

export default defineConfig({
  testDir: "e2e",
  testMatch: "*.e2e.ts",
  // One worker: the tests measure timings and share the machine's 2 cores with Chromium, Deno and the seed.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  timeout: 180_000,
  globalTimeout: 15 * 60_000,
  outputDir: "e2e-results",
  reporter: [["list"], ["html", { outputFolder: "e2e-report", open: "never" }]],
  use: {
    browserName: "chromium",
    headless: true,
    launchOptions: { executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] },
    // Recorded for every tab of every test, kept (under e2e-results/, and in the HTML report) only when one fails:
    // actions, DOM snapshots, console, network, sources. Without the screencast: filming three animated dashboards
    // doubled the suite's CPU time here (and the dashboard test took 1.6 min instead of 10–20 s).
    trace: { mode: "retain-on-failure", screenshots: false, snapshots: true, sources: true },
  },
  projects: [{ name: "chromium" }],
});
