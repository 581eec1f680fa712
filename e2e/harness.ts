/**
 * Browsers, tabs and a Deno node: the plain harness under the e2e tests' Playwright fixtures (e2e/fixtures.ts) and
 * the browser benchmark (bench/browser.ts, which launches its own Chromium with `launchChromium`).
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { spawnLineProcess } from "../test/cluster/line-process.js";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./chromium.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DENO = fileURLToPath(new URL("../.cache/deno/node_modules/.bin/deno", import.meta.url));

/** Debian's Chromium, headless, with the flags this machine needs (no background networking). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });
}

export interface Tab {
  page: Page;
  nodeId: string;
  /** Console errors and page errors seen so far. */
  errors: string[];
}

/** Opens the dashboard in a fresh browser context (its own storage: a separate peer) and waits until it joined. */
export async function openTab(browser: Browser, url: string, timeoutMs = 30_000): Promise<Tab> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // Functions passed to page.evaluate from tsx-compiled code (the bench) refer to esbuild's __name helper.
  // (Playwright Test's Babel transform, under the e2e tests, emits no such helper: harmless there.)
  await page.addInitScript({ content: "globalThis.__name = (f) => f;" });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: timeoutMs }).catch((error: unknown) => {
    throw new Error(`the dashboard tab did not join within ${timeoutMs} ms; page errors: ${JSON.stringify(errors)}`, { cause: error });
  });
  const nodeId = await page.evaluate(() => (globalThis as unknown as { system: { nodeId: string } }).system.nodeId);
  return { page, nodeId, errors };
}

export interface DenoNode {
  nodeId: string;
  process: ChildProcess;
  command(command: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

/** A Deno process joining the cluster (runs the built package from dist/). */
export async function startDenoNode(options: Record<string, unknown>, timeoutMs = 60_000): Promise<DenoNode> {
  const deno = spawnLineProcess(
    DENO,
    ["run", "-A", "--node-modules-dir=manual", "e2e/deno-node.ts", JSON.stringify(options)],
    ROOT,
    "the Deno node",
  );
  const child = deno.process;
  const ready = await deno.next(timeoutMs).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  if ("error" in ready) throw new Error(`the Deno node failed: ${JSON.stringify(ready.error)}`);
  return {
    nodeId: (ready.ready as { nodeId: string }).nodeId,
    process: child,
    command: (command) => deno.ask(command, 15_000),
    stop: () => deno.stop(),
  };
}
