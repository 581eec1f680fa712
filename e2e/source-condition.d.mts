import type { ResolveHook } from "node:module";

/** Adds the `pulsing-source` export condition to every resolution (see source-condition.mjs). */
export declare const resolve: ResolveHook;
