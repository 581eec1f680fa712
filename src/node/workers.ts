import { MessageChannel, Worker, workerData, type WorkerOptions } from "node:worker_threads";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { getSystem, init } from "../global.js";
import type { ActorSystem } from "../system/actor-system.js";
import type { ActorSystemOptions } from "../system/options.js";
import type { PortHub, PortLike, WorkerJoin } from "../transport/port-transport.js";
import { awaitWorker, joinParent, startPool, withSeedOptions, WORKER_KEY, type Handshake } from "../transport/worker-link.js";

/**
 * Worker threads as nodes (Node): `spawnWorkers` starts `worker_threads` workers, each with a `MessagePort` to its
 * parent's node; `initInsideWorker` (in the worker) starts the worker's node, which joins the parent's cluster over
 * that port (`../transport/port-transport.ts`, handshake in `../transport/worker-link.ts`). Other nodes reach a
 * worker through its parent's relay.
 */

/** Options of `spawnWorkers()`. */
export interface SpawnWorkersOptions {
  /** The parent node. @default the global system (`init()`) */
  system?: ActorSystem;
  /** How long each worker may take to start its node and join (ms). @default 30000 */
  timeout?: number;
  /** Passed on to `new Worker()` (`execArgv`, `env`, `resourceLimits`, `workerData`…; not `transferList`). */
  worker?: Omit<WorkerOptions, "transferList">;
}

/** A worker thread that is a node of its parent's cluster. */
export interface WorkerNode {
  readonly nodeId: string;
  readonly worker: Worker;
  /** Stops the thread: its node is gone, and the cluster declares it dead like any node that stops answering. */
  terminate(): Promise<void>;
}

/** Options of `initInsideWorker()`: those of `init()`, but the seeds, passphrase and cluster come from the parent. */
export type WorkerInitOptions = Omit<ActorSystemOptions, "seeds" | "passphrase" | "headAddr" | "isHeadNode">;

/**
 * Starts `n` worker threads running `moduleUrl`, which calls `initInsideWorker()`; resolves once every worker's
 * node has joined the parent's cluster (if one fails, the others are terminated and it rejects). The parent must be
 * networked (an `addr` or seeds); its shutdown terminates the workers.
 */
export async function spawnWorkers(n: number, moduleUrl: string | URL, options: SpawnWorkersOptions = {}): Promise<WorkerNode[]> {
  return startPool(n, options.system ?? getSystem(), (hub, join) => startWorker(moduleUrl, hub, join, options));
}

async function startWorker(moduleUrl: string | URL, hub: PortHub, join: WorkerJoin, options: SpawnWorkersOptions): Promise<WorkerNode> {
  const { port1, port2 } = new MessageChannel();
  const handshake = { ...join, port: port2 };
  const worker = new Worker(moduleUrl, {
    ...options.worker,
    workerData: { ...(options.worker?.workerData as object | undefined), [WORKER_KEY]: handshake },
    transferList: [port2],
  });
  const gone = new Promise<never>((_, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) =>
      reject(new PulsingRuntimeError(ErrorCode.INVALID_STATE, `spawnWorkers(): a worker exited (code ${code}) before joining — does its module call initInsideWorker()?`)),
    );
  });
  gone.catch(() => {}); // (rejects on every exit, the normal one included; only a start still waiting cares)
  const { joined, detach } = awaitWorker(hub, port1 as unknown as PortLike, options.timeout ?? 30_000, gone);
  // The port closes with the thread anyway (Node fires `close` on this end); closing it here makes that explicit.
  worker.once("exit", detach);
  try {
    const nodeId = await joined;
    return {
      nodeId,
      worker,
      terminate: async () => {
        await worker.terminate();
        detach();
      },
    };
  } catch (error) {
    await worker.terminate();
    detach();
    throw error;
  }
}

/**
 * Inside a worker started by `spawnWorkers`: starts this thread's node (the global system, as `init()` does) and
 * joins the parent's cluster over the worker's port. Classes spawned here from other nodes must be registered in
 * the worker's module too.
 */
export function initInsideWorker(options: WorkerInitOptions = {}): Promise<ActorSystem> {
  // The worker joins once: a second call gets the first one's system (or its failure).
  return (joining ??= join(options));
}

let joining: Promise<ActorSystem> | undefined;

async function join(options: WorkerInitOptions): Promise<ActorSystem> {
  const handshake = (workerData as Record<string, unknown> | null | undefined)?.[WORKER_KEY] as Handshake | undefined;
  if (handshake === undefined) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "initInsideWorker(): not in a worker started by spawnWorkers()");
  }
  return joinParent(handshake, (seedOptions) =>
    init(withSeedOptions(options, seedOptions)),
  );
}
