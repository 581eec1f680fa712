/**
 * The worker threads of the Deno node (e2e/deno-node.ts's `spawnWorkers` command, through Deno's
 * `node:worker_threads`): each is a node of the parent's cluster, hosting `DenoCruncher`s spawned into it. The
 * parent imports this module too (a class spawned across nodes is registered on both ends); only a worker thread
 * starts a node.
 */
import * as pul from "pulsing";
import { initInsideWorker } from "pulsing/node";
import { isMainThread, threadId } from "node:worker_threads";

export const DenoCruncher = pul.remote(
  class DenoCruncher {
    /** CPU-bound work, off the parent's main thread. */
    sum(n: number): number {
      let total = 0;
      for (let i = 1; i <= n; i++) total += i;
      return total;
    }
    /** Where it runs: its node's runtime and its thread. */
    where(): { runtime: string; nodeId: string; threadId: number; isMainThread: boolean } {
      const system = pul.currentContext().system;
      return { runtime: system.runtime, nodeId: system.nodeId, threadId, isMainThread };
    }
  },
);

if (!isMainThread) await initInsideWorker();
