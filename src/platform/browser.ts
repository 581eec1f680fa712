import { SyncContextStore } from "../actor/context-store.js";
import type { Platform } from "./platform.js";

/** Browsers (and any runtime without async context tracking). */
export const platform: Platform = {
  runtime: "browser",
  createContextStore: () => new SyncContextStore(),
};
