import { defineConfig } from "vite";
import { BROWSER_CONDITIONS, forbidNodeBuiltins } from "./scripts/vite-shared.js";

/**
 * The browser build: the dashboard in `demo/` (a tab that is a full cluster node), built from the TypeScript
 * sources with browser resolve conditions and no Node built-ins.
 */
export default defineConfig({
  root: "demo",
  resolve: { conditions: BROWSER_CONDITIONS },
  plugins: [forbidNodeBuiltins()],
  // Web Worker nodes (demo/web-worker.ts): ES modules, since the runtime loads its transports on demand.
  worker: { format: "es", plugins: () => [forbidNodeBuiltins()], rolldownOptions: { output: { keepNames: true } } },
  build: {
    target: "es2022",
    outDir: "../dist/demo",
    emptyOutDir: true,
    // Actor classes are registered by name (`@remote`): keep class names through minification.
    rolldownOptions: { output: { keepNames: true } },
  },
});
