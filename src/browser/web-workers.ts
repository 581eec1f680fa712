import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { getSystem, init } from "../global.js";
import type { ActorSystem } from "../system/actor-system.js";
import type { ActorSystemOptions } from "../system/options.js";
import type { PortHub, WorkerJoin } from "../transport/port-transport.js";
import { within } from "../util/deadline.js";
import { awaitWorker, handshakeFromScope, joinParent, offerToWebWorker, startPool, withSeedOptions, type Handshake } from "../transport/worker-link.js";

/**
 * Web Workers as nodes (browsers): the counterpart of `src/node/workers.ts`. `spawnWorkers` starts module workers
 * and hands each a `MessagePort` to the tab's node in its first message; `initInsideWorker` (in the worker) joins the
 * tab's cluster over it. A tab runs no relay, so the worker also dials the tab's seeds and listens through their
 * relays, as a tab does: other members reach it there (a Web Worker has no WebRTC).
 */

/** Options of `spawnWorkers()` in a browser. */
export interface SpawnWorkersOptions {
  /** The parent node (this tab's). @default the global system (`init()`) */
  system?: ActorSystem;
  /** How long each worker may take to start its node and join (ms). @default 30000 */
  timeout?: number;
  /** Passed on to `new Worker()` (`name`, `credentials`). @default { type: "module" } */
  worker?: WorkerOptions;
}

/** A Web Worker that is a node of its tab's cluster. */
export interface WorkerNode {
  readonly nodeId: string;
  readonly worker: Worker;
  /** Stops the worker: its node is gone, and the cluster declares it dead like any node that stops answering. */
  terminate(): Promise<void>;
}

/** Options of `initInsideWorker()`: those of `init()`, but the seeds, passphrase and cluster come from the parent. */
export type WorkerInitOptions = Omit<ActorSystemOptions, "seeds" | "passphrase" | "headAddr" | "isHeadNode" | "addr">;

/** How long a worker waits for its parent's handshake: `spawnWorkers` sends it with the worker's creation. */
const HANDSHAKE_WAIT_MS = 10_000;

type WorkerScope = Parameters<typeof handshakeFromScope>[0];

/** Whether this code runs in a dedicated Web Worker (the only kind `spawnWorkers` starts). */
function dedicatedWorkerScope(): WorkerScope | undefined {
  const scopeClass = (globalThis as { DedicatedWorkerGlobalScope?: abstract new () => unknown }).DedicatedWorkerGlobalScope;
  return scopeClass !== undefined && globalThis instanceof scopeClass ? (globalThis as unknown as WorkerScope) : undefined;
}

/**
 * The handshake, listened for as soon as this module loads in a worker: the parent posts it when it creates the
 * worker, and a message that arrives before anyone listens is gone (the worker's module may await other things
 * before it calls `initInsideWorker()`).
 */
const scope = dedicatedWorkerScope();
const handshake: Promise<Handshake> | undefined = scope === undefined ? undefined : handshakeFromScope(scope);

/**
 * Starts `n` module Web Workers running `moduleUrl`, which calls `initInsideWorker()`; resolves once every worker's
 * node has joined this tab's cluster (if one fails, the others are terminated and it rejects). This tab's shutdown
 * terminates them.
 */
export async function spawnWorkers(n: number, moduleUrl: string | URL, options: SpawnWorkersOptions = {}): Promise<WorkerNode[]> {
  return startPool(n, options.system ?? getSystem(), (hub, join) => startWorker(moduleUrl, hub, join, options));
}

async function startWorker(moduleUrl: string | URL, hub: PortHub, join: WorkerJoin, options: SpawnWorkersOptions): Promise<WorkerNode> {
  const worker = new Worker(moduleUrl, { type: "module", ...options.worker });
  let detach = (): void => {};
  const terminate = async (): Promise<void> => {
    worker.terminate();
    // Browsers tell no one that a terminated worker's port is gone: its connections end here.
    detach();
  };
  const gone = new Promise<never>((_, reject) => {
    // A module that fails to load or throws at its top level: the event has a message only for a script error.
    worker.addEventListener("error", (event) => {
      const why = event.message ? `: ${event.message}` : ` (could not load ${String(moduleUrl)}?)`;
      reject(new PulsingRuntimeError(ErrorCode.INVALID_STATE, `spawnWorkers(): a worker failed before joining${why}`));
    });
  });
  gone.catch(() => {}); // (only a start still waiting cares)
  try {
    const awaited = awaitWorker(hub, offerToWebWorker(worker, join), options.timeout ?? 30_000, gone);
    detach = awaited.detach;
    return { nodeId: await awaited.joined, worker, terminate };
  } catch (error) {
    await terminate();
    throw error;
  }
}

/**
 * Inside a Web Worker started by `spawnWorkers`: starts this worker's node (the global system, as `init()` does)
 * and joins the parent tab's cluster over the worker's port. Classes spawned here from other nodes must be
 * registered in the worker's module too.
 */
export function initInsideWorker(options: WorkerInitOptions = {}): Promise<ActorSystem> {
  // The worker joins once: a second call gets the first one's system (or its failure).
  return (joining ??= join(options));
}

let joining: Promise<ActorSystem> | undefined;

async function join(options: WorkerInitOptions): Promise<ActorSystem> {
  if (handshake === undefined) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "initInsideWorker(): not in a dedicated Web Worker (start one with spawnWorkers())");
  }
  const received = await within(
    handshake,
    HANDSHAKE_WAIT_MS,
    () =>
      new PulsingRuntimeError(
        ErrorCode.TIMEOUT,
        `initInsideWorker(): no word from a parent within ${HANDSHAKE_WAIT_MS} ms: was this worker started by spawnWorkers()?`,
      ),
  );
  return joinParent(received, (seedOptions) =>
    init(withSeedOptions(options, seedOptions)),
  );
}
