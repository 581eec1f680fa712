/**
 * A module resolve hook that adds the `pulsing-source` export condition, as `node --conditions=pulsing-source`
 * does: `import * as pul from "pulsing"` and `#platform` then resolve to src/*.ts (package.json `exports` and
 * `imports`), so the e2e tests run on the TypeScript sources through Playwright's own TypeScript loader.
 * playwright.config.ts registers it; the runner and every worker load the config before any test file.
 * Synchronous, so it serves both `module.registerHooks` (in-thread) and `module.register` (loader thread).
 */
export function resolve(specifier, context, nextResolve) {
  const conditions = context.conditions;
  if (!Array.isArray(conditions) || conditions.includes("pulsing-source")) return nextResolve(specifier, context);
  return nextResolve(specifier, { ...context, conditions: [...conditions, "pulsing-source"] });
}
