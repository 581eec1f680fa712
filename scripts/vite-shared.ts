import { builtinModules } from "node:module";
import type { Plugin } from "vite";

/** Resolve conditions for browser builds of this repository: the TypeScript sources, browser variants. */
export const BROWSER_CONDITIONS = ["pulsing-source", "browser", "import", "module", "default"];

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
/**
 * Bare names of Node built-ins that resolve to an npm package in a browser: `events` (the `events` package, our
 * dependency) and `buffer` (the `buffer` package, `abstract-level`'s), which the `level` queue backend's IndexedDB
 * build (`browser-level` on `abstract-level`) imports.
 */
const BROWSER_PACKAGES = new Set(["events", "buffer"]);

/**
 * Fails the build when anything reaches for a Node built-in: the core must stay isomorphic
 * (Node-only code lives under `src/node/` and `pulsing/node`).
 */
export function forbidNodeBuiltins(): Plugin {
  return {
    name: "pulsing:forbid-node-builtins",
    enforce: "pre",
    resolveId(source, importer) {
      if (source.startsWith("node:") || (NODE_BUILTINS.has(source) && !BROWSER_PACKAGES.has(source))) {
        this.error(`browser build imports the Node built-in '${source}' (from ${importer ?? "the entry"})`);
      }
      return null;
    },
  };
}
