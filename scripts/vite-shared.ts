import { builtinModules } from "node:module";
import type { Plugin } from "vite";

/** Resolve conditions for browser builds of this repository: the TypeScript sources, browser variants. */
export const BROWSER_CONDITIONS = ["pulsing-source", "browser", "import", "module", "default"];

const NODE_BUILTINS = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));

/**
 * Fails the build when anything reaches for a Node built-in: the core must stay isomorphic
 * (Node-only code lives under `src/node/` and `pulsing/node`).
 */
export function forbidNodeBuiltins(): Plugin {
  return {
    name: "pulsing:forbid-node-builtins",
    enforce: "pre",
    resolveId(source, importer) {
      if (source.startsWith("node:") || NODE_BUILTINS.has(source)) {
        this.error(`browser build imports the Node built-in '${source}' (from ${importer ?? "the entry"})`);
      }
      return null;
    },
  };
}
