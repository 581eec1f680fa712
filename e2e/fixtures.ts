/**
 * Playwright Test fixtures for the e2e tests: a Node seed serving the dashboard, `tabCount` dashboard tabs joined to
 * it (each in its own browser context: its own storage, so a separate peer) and a Deno node joined to it.
 *
 * All worker-scoped: one cluster is built for the worker and shared by the tests of a file, which therefore run in
 * order (`test.describe.configure({ mode: "serial" })`) and may build on each other (an actor one test spawns,
 * a tab one test closes). Set `test.use({ tabCount: 2 })` for another number of tabs.
 *
 * The tabs come from Playwright's own worker-scoped `browser` (Debian's Chromium: playwright.config.ts), so the
 * trace of a failed test covers every tab.
 */
import { test as base } from "@playwright/test";
import { fileURLToPath } from "node:url";
import { hostDemoActors } from "../examples/demo-actors.js";
import { startSeed, type Seed } from "../src/node/index.js";
import { tcpAddr } from "../test/cluster/harness.js";
import { openTab, startDenoNode, type DenoNode, type Tab } from "./harness.js";

export type { DenoNode, Tab } from "./harness.js";
export type { Seed } from "../src/node/index.js";

const DASHBOARD = fileURLToPath(new URL("../dist/demo", import.meta.url));

export interface ClusterFixtures {
  /** How many dashboard tabs `tabs` opens (an option: `test.use({ tabCount })`). */
  tabCount: number;
  /** A Node seed on loopback serving the built dashboard (dist/demo), with the demo actors the dashboard uses. */
  seed: Seed;
  /** `tabCount` dashboard tabs, each joined to the seed (its `init()` returned) when the test starts. */
  tabs: Tab[];
  /** A Deno node (running dist/) joined to the seed over TCP, hosting `deno/echo`. */
  deno: DenoNode;
  /** A second Node seed of the cluster, in this process, that runs processes for other members (`serveProcesses`). */
  procSeed: Seed;
}

export const test = base.extend<{}, ClusterFixtures>({
  tabCount: [3, { scope: "worker", option: true }],

  seed: [
    async ({}, use) => {
      const seed = await startSeed({ addr: "127.0.0.1:0", dashboard: { root: DASHBOARD, port: 0, host: "127.0.0.1" } });
      await hostDemoActors(seed.system);
      await use(seed);
      await seed.stop();
    },
    { scope: "worker", timeout: 30_000 },
  ],

  tabs: [
    async ({ browser, seed, tabCount }, use) => {
      const tabs: Tab[] = [];
      for (let i = 0; i < tabCount; i++) tabs.push(await openTab(browser, seed.url!));
      const contexts = tabs.map((tab) => tab.page.context());
      await use(tabs); // tests may take tabs out of the array (and close them)
      for (const context of contexts) await context.close();
    },
    { scope: "worker", timeout: 120_000 }, // each tab may take up to 30 s to join on a loaded machine
  ],

  procSeed: [
    async ({ seed }, use) => {
      const procSeed = await startSeed({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed.system)], serveProcesses: true });
      await use(procSeed);
      await procSeed.stop();
    },
    { scope: "worker", timeout: 30_000 },
  ],

  deno: [
    async ({ seed }, use) => {
      const deno = await startDenoNode({ seeds: [tcpAddr(seed.system)] });
      await use(deno);
      await deno.stop();
    },
    { scope: "worker", timeout: 90_000 },
  ],
});
