import { init, type ActorSystem, type ActorSystemOptions } from "../index.js";

/**
 * Starts the global actor system (`init(options)`) as a scope: `await using rt = await runtime({ addr, seeds })`
 * shuts it down when the scope ends. `rt` is the system. A global system already running is returned as it is, and
 * shut down at the end of the scope as well.
 */
export async function runtime(options: ActorSystemOptions = {}): Promise<ActorSystem> {
  return init(options);
}
