import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";

/** One queue record: a plain object (whatever the codec carries). */
export type QueueRecord = Record<string, unknown>;

/**
 * Where a bucket keeps its records (Pulsing's `StorageBackend`): records are numbered from 0 in the order they were
 * put; `get(limit, offset)` returns up to `limit` of them from `offset` on.
 */
export interface StorageBackend {
  put(record: QueueRecord): Promise<void>;
  putBatch(records: readonly QueueRecord[]): Promise<void>;
  get(limit: number, offset: number): Promise<QueueRecord[]>;
  /** Records from `offset` on, `limit` at a time, until there are no more. */
  getStream(limit: number, offset: number): AsyncIterable<QueueRecord[]>;
  flush(): Promise<void>;
  stats(): Promise<Record<string, unknown>>;
  totalCount(): Promise<number>;
  close?(): Promise<void>;
}

/** What a backend class is built with: `new Backend({ topic, bucketId, ...backendOptions })`. */
export interface BackendInit {
  topic: string;
  bucketId: number;
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

const backends = new Map<string, StorageBackendClass>([["memory", MemoryBackend]]);

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
      name === "level" ? ErrorCode.UNSUPPORTED : ErrorCode.INVALID_OPTION,
      name === "level"
        ? "backend 'level' is not built yet (issue 12): use 'memory' or a registered backend"
        : `unknown queue backend '${name}' on this node (registered: ${[...backends.keys()].join(", ")}; see queue.registerBackend)`,
    );
  }
  return Backend;
}
