/**
 * Actor classes in a page built by Vite's default production build: the minifier drops class names, and the page
 * must still load, spawn, call, stream and resolve; a spawn on another node fails with a typed error saying how to
 * name the class (before, `remote(class …)` threw at module load and the whole page died).
 */
import { expect, test } from "@playwright/test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "vite";
import { serveStatic } from "../src/node/static-server.js";
import { BROWSER_CONDITIONS, forbidNodeBuiltins } from "../scripts/vite-shared.js";

const PAGE = fileURLToPath(new URL("./pages/minified", import.meta.url));

test("a minified page's actor classes work; a remote spawn by an unnamed class says how to name it", async ({ page }) => {
  const outDir = mkdtempSync(join(tmpdir(), "pulsing-minified-"));
  try {
    // Vite's defaults (production, minified, no keepNames); only the source condition and the Node built-in guard
    // are this repository's, so that `pulsing` resolves to its sources.
    await build({
      root: PAGE,
      configFile: false,
      logLevel: "silent",
      resolve: { conditions: BROWSER_CONDITIONS },
      plugins: [forbidNodeBuiltins()],
      build: { outDir, emptyOutDir: true, target: "es2022" },
    });
    const served = await serveStatic({ root: outDir, host: "127.0.0.1", port: 0, json: {} });
    try {
      // A page that dies at module load (as it did) fails the test at once, with the page's error.
      const died = page.waitForEvent("pageerror", { timeout: 0 }).then((error) => {
        throw new Error(`the page failed: ${error.message}`);
      });
      died.catch(() => {}); // raced below; later (the page closing) it is nobody's concern
      await page.goto(served.url);
      const done = page.waitForFunction(() => (globalThis as { result?: unknown }).result, null, { timeout: 30_000 });
      const result = (await (await Promise.race([done, died])).jsonValue()) as Record<string, unknown>;
      expect(result.error).toBeUndefined();
      // The test means something only if the minifier really dropped (or mangled) the names.
      expect(result.classNames).not.toContain("TabCounter");
      expect(result.classNames).not.toContain("Greeter");
      expect(result.incr).toEqual([1, 2]);
      expect(result.items).toEqual([1, 2, 3]);
      expect(result.resolved).toBe(3);
      expect(result.greeting).toBe("hello, tab");
      const remoteSpawn = result.remoteSpawn as { code: string; message: string };
      expect(remoteSpawn.code).toBe("CLASS_NOT_REGISTERED");
      expect(remoteSpawn.message).toContain('remote({ name: "Counter" })');
    } finally {
      await new Promise<void>((resolve) => served.server.close(() => resolve()));
    }
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});
