import { SyncContextStore } from "../actor/context-store.js";
import { PulsingRuntimeError } from "../errors/errors.js";
import type { Platform } from "./platform.js";

/** Browsers (and any runtime without async context tracking). */
export const platform: Platform = {
  runtime: "browser",
  createContextStore: () => new SyncContextStore(),
  transports: async () => {
    throw new PulsingRuntimeError("browser nodes are not available in this build yet");
  },
};
