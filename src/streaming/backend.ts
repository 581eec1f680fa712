import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { LevelBackend } from "./level-backend.js";

/** One queue record: a plain object (whatever the codec carries). */
export type QueueRecord = Record<string, unknown>;

/**
 * What a bucket keeps besides its records: its lineage (`epoch`), each writer's last batch number (a retried batch is
 * stored once) and each reader group's committed offset. A persistent backend stores it with the records.
 */
export interface BucketMeta {
  epoch: string;
  lastBatch: Array<[string, number]>;
  committed: Array<[string, number]>;
}

/**
 * Where a bucket keeps its records (Pulsing's `StorageBackend`): records are numbered from 0 in the order they were
 * put; `get(limit, offset)` returns up to `limit` of them from `offset` on.
 *
 * A backend whose records outlive their node sets `persistent` and implements `loadMeta`, `saveMeta` and `clear`:
 * `putBatch` then gets the bucket's meta to store in the same write as the records, and a node that restarts picks
 * its buckets up where they were.
 */
export interface StorageBackend {
  readonly persistent?: boolean;
  put(record: QueueRecord): Promise<void>;
  putBatch(records: readonly QueueRecord[], meta?: BucketMeta): Promise<void>;
  get(limit: number, offset: number): Promise<QueueRecord[]>;
  /** Records from `offset` on, `limit` at a time, until there are no more. */
  getStream(limit: number, offset: number): AsyncIterable<QueueRecord[]>;
  flush(): Promise<void>;
  stats(): Promise<Record<string, unknown>>;
  totalCount(): Promise<number>;
  /** Persistent backends: the meta stored with the last batch or commit (undefined for a bucket never written). */
  loadMeta?(): Promise<BucketMeta | undefined>;
  saveMeta?(meta: BucketMeta): Promise<void>;
  /** Persistent backends: drops the bucket's records and meta (its copy is replaced by another, or moved away). */
  clear?(): Promise<void>;
  close?(): Promise<void>;
}

/**
 * What a backend class is built with: `new Backend({ topic, bucketId, ...backendOptions, nodeId, standalone })` —
 * the node that keeps the bucket, and whether it is a standalone system (not a member of a cluster).
 */
export interface BackendInit {
  topic: string;
  bucketId: number;
  nodeId?: string;
  standalone?: boolean;
  [option: string]: unknown;
}

export type StorageBackendClass = new (init: BackendInit) => StorageBackend;

/** The default backend: records in memory, lost with the node. */
export class MemoryBackend implements StorageBackend {
  readonly #records: QueueRecord[] = [];

  constructor(_init: BackendInit) {}

  async put(record: QueueRecord): Promise<void> {
    this.#records.push(record);
  }

  async putBatch(records: readonly QueueRecord[]): Promise<void> {
    for (const record of records) this.#records.push(record);
  }

  async get(limit: number, offset: number): Promise<QueueRecord[]> {
    return this.#records.slice(offset, offset + limit);
  }

  async *getStream(limit: number, offset: number): AsyncIterable<QueueRecord[]> {
    if (!(limit >= 1)) throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "getStream(): 'limit' must be at least 1");
    for (let at = offset; at < this.#records.length; at += limit) yield this.#records.slice(at, at + limit);
  }

  async flush(): Promise<void> {}

  async stats(): Promise<Record<string, unknown>> {
    return { backend: "memory", totalCount: this.#records.length };
  }

  async totalCount(): Promise<number> {
    return this.#records.length;
  }
}

const backends = new Map<string, StorageBackendClass>([
  ["memory", MemoryBackend],
  ["level", LevelBackend],
]);

/** Makes `Backend` available as `backend: name` on this node (each node that owns buckets of the queue needs it). */
export function registerBackend(name: string, Backend: StorageBackendClass): void {
  if (typeof name !== "string" || name.length === 0) throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "registerBackend(): 'name' must be a non-empty string");
  if (typeof Backend !== "function") throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `registerBackend(): backend '${name}' must be a class`);
  backends.set(name, Backend);
}

export function backendClass(name: string): StorageBackendClass {
  const Backend = backends.get(name);
  if (Backend === undefined) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_OPTION,
      `unknown queue backend '${name}' on this node (registered: ${[...backends.keys()].join(", ")}; see queue.registerBackend)`,
    );
  }
  return Backend;
}
