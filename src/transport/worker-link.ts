import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { hubOfNode, setThreadParent, type PortHub, type PortLike, type WorkerJoin } from "./port-transport.js";

/**
 * The handshake between a parent node and a worker thread, for Node `worker_threads` and browser Web Workers alike
 * (isomorphic; `src/node/workers.ts` is the Node side). The parent creates a `MessageChannel`, attaches one end to
 * its hub and hands the other to the worker with a `WorkerJoin` (Node: in `workerData`; a Web Worker: in its first
 * message, `{ [WORKER_KEY]: handshake }`, the port transferred). The worker starts its node with the parent as
 * its seed and answers on the port with a `Control`.
 */

/** Where the handshake travels: a `workerData` key, or the key of a Web Worker's first message. */
export const WORKER_KEY = "__pulsingWorker";

export interface Handshake extends WorkerJoin {
  port: PortLike;
}

/** What a worker tells its parent over the port once its node is up (or could not start). */
export type Control = { pulsing: "ready"; nodeId: string } | { pulsing: "failed"; message: string };

/** The options a worker's node starts with (added to its own). */
export interface WorkerSeedOptions {
  seeds: string[];
  passphrase?: string;
  membership?: { cluster: string };
}

/** What a parent's hub tells its workers, or an error saying why it has none (a system without a network). */
export function joinOf(hub: PortHub | undefined, where: string): WorkerJoin {
  const join = hub?.workerJoin;
  if (join === undefined) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: the parent system has no network: start it with 'addr' (or seeds)`);
  }
  return join;
}

/**
 * Parent side: attaches `port` (the parent's end) to `hub` and resolves with the worker's node id once it has
 * joined; rejects when it reports a failure, when `gone` rejects (the worker exited), or after `timeoutMs`.
 * `detach` closes the port, ending its connections (the worker is gone).
 */
export function awaitWorker(
  hub: PortHub,
  port: PortLike,
  timeoutMs: number,
  gone: Promise<never>,
): { joined: Promise<string>; detach: () => void } {
  const attached = hub.attach(port);
  let settled = (): void => {};
  const joined = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new PulsingRuntimeError(ErrorCode.TIMEOUT, `spawnWorkers(): a worker did not join within ${timeoutMs} ms`)),
      timeoutMs,
    );
    port.addEventListener("message", (event) => {
      const control = event.data as Partial<Control> | null;
      if (control?.pulsing === "ready" && typeof control.nodeId === "string") resolve(control.nodeId);
      else if (control?.pulsing === "failed") {
        reject(new PulsingRuntimeError(ErrorCode.INVALID_STATE, `spawnWorkers(): a worker's node failed to start: ${String(control.message)}`));
      }
    });
    gone.catch(reject);
    // Settled either way: the timer must not keep a finished start alive.
    settled = () => clearTimeout(timer);
  });
  joined.then(
    () => settled(),
    () => settled(),
  );
  return { joined, detach: attached.close };
}

/** A worker that is a node, as `spawnWorkers` hands it out (Node and browsers alike). */
export interface PooledWorker {
  readonly nodeId: string;
  terminate(): Promise<void>;
}

/**
 * `spawnWorkers()`: starts `n` workers of `parent` with `start` (given the parent's hub and what its workers join
 * with), all at once; resolves once every one has joined. If one fails, the others are terminated and it rejects
 * with that failure. The workers end with `parent` (orphaned, they would keep running and dial a gone parent).
 */
export async function startPool<W extends PooledWorker>(
  n: number,
  parent: { readonly nodeId: string; onShutdown(listener: () => void): void },
  start: (hub: PortHub, join: WorkerJoin) => Promise<W>,
): Promise<W[]> {
  if (!Number.isInteger(n) || n < 0) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `spawnWorkers(): 'n' must be a whole number, got ${String(n)}`);
  const hub = hubOfNode(parent.nodeId);
  const join = joinOf(hub, "spawnWorkers()");
  const started = await Promise.allSettled(Array.from({ length: n }, () => start(hub!, join)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(started.map((s) => (s.status === "fulfilled" ? s.value.terminate() : undefined)));
    throw failed.reason;
  }
  const workers = started.map((s) => (s as PromiseFulfilledResult<W>).value);
  parent.onShutdown(() => void Promise.all(workers.map((w) => w.terminate())).catch(() => {}));
  return workers;
}

/** A worker node's own options with what its parent tells it added (the seeds, secret and cluster). */
export function withSeedOptions<O extends { membership?: object }>(options: O, seedOptions: WorkerSeedOptions): O & WorkerSeedOptions {
  return { ...options, ...seedOptions, membership: { ...options.membership, ...seedOptions.membership } } as O & WorkerSeedOptions;
}

/** The options a worker's node joins its parent's cluster with. */
export function workerSeedOptions(join: WorkerJoin): WorkerSeedOptions {
  return {
    // The parent first (over the port); a parent without a relay passes its own seeds, whose relays the worker
    // then reserves on (a browser tab's Web Worker, reached by other nodes like a tab).
    seeds: [`/memory/${join.hub}/p2p/${join.nodeId}`, ...(join.relayAddr === undefined ? (join.seeds ?? []) : [])],
    ...(join.passphrase !== undefined ? { passphrase: join.passphrase } : {}),
    ...(join.cluster !== undefined ? { membership: { cluster: join.cluster } } : {}),
  };
}

/**
 * Worker side: starts this thread's node with `start` (given the seed options to add to its own), joined to the
 * parent over the handshake's port, and reports to the parent on it.
 */
export async function joinParent<S extends { nodeId: string }>(handshake: Handshake, start: (seedOptions: WorkerSeedOptions) => Promise<S>): Promise<S> {
  const { port } = handshake;
  const relayed = handshake.relayAddr !== undefined || (handshake.seeds?.length ?? 0) > 0;
  setThreadParent({ port, hub: handshake.hub, relayAddr: handshake.relayAddr, relayed });
  try {
    const system = await start(workerSeedOptions(handshake));
    port.postMessage({ pulsing: "ready", nodeId: system.nodeId } satisfies Control);
    return system;
  } catch (error) {
    setThreadParent(undefined);
    port.postMessage({ pulsing: "failed", message: error instanceof Error ? error.message : String(error) } satisfies Control);
    throw error;
  }
}

/** A dedicated Web Worker's handshake: the first message on its global scope that carries one. */
export function handshakeFromScope(scope: {
  addEventListener(type: "message", listener: (event: { data: unknown; ports?: readonly unknown[] }) => void): void;
  removeEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
}): Promise<Handshake> {
  return new Promise((resolve) => {
    const listener = (event: { data: unknown }): void => {
      const handshake = (event.data as Record<string, unknown> | null)?.[WORKER_KEY] as Handshake | undefined;
      if (handshake === undefined) return; // the user's own messages
      scope.removeEventListener("message", listener);
      resolve(handshake);
    };
    scope.addEventListener("message", listener);
  });
}

/** Browser parent side: hands a new channel's port to a Web Worker (`worker.postMessage`); returns the parent's end. */
export function offerToWebWorker(
  worker: { postMessage(message: unknown, transfer: Transferable[]): void },
  join: WorkerJoin,
): PortLike {
  const { port1, port2 } = new MessageChannel();
  worker.postMessage({ [WORKER_KEY]: { ...join, port: port2 } }, [port2]);
  return port1 as unknown as PortLike;
}
