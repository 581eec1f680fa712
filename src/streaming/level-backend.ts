import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { decode, encode } from "../wire/codec.js";
import type { BackendInit, BucketMeta, QueueRecord, StorageBackend } from "./backend.js";

/**
 * The `level` backend: a bucket's records in LevelDB (Node, Deno: `classic-level`) or IndexedDB (a browser:
 * `browser-level`), through the `level` package, so they survive a restart of their node.
 *
 * One database per location, shared by the buckets a node keeps there (one sublevel each): LevelDB locks its
 * directory, so a node cannot open it twice. The location is `storagePath` (default `./queue_storage` in Node and
 * Deno, the IndexedDB database `pulsing-queues` in a tab); a member of a cluster keeps its buckets under its node id
 * inside it (`<storagePath>/<nodeId>`), so nodes of one machine never share a database: a node needs a stable node id
 * (`privateKey`) to find its buckets again after a restart. A standalone system uses `storagePath` itself.
 *
 * In a bucket's sublevel, record `n` is under `r` + `n` as 13 hex digits (keys sort as offsets), and the bucket's
 * meta (lineage, writers' last batch numbers, group offsets) under `m`, written in the same LevelDB batch as the
 * records it goes with: after a crash, the records and the batch numbers that deduplicate retries agree.
 */
export class LevelBackend implements StorageBackend {
  readonly persistent = true;
  readonly #location: string;
  readonly #name: string;
  readonly #nodeId: string;
  #bucket: Promise<Sublevel> | undefined;
  #count: number | undefined;
  #closed = false;

  constructor(init: BackendInit) {
    const storagePath = init.storagePath ?? (isBrowser() ? "pulsing-queues" : "./queue_storage");
    if (typeof storagePath !== "string" || storagePath.length === 0) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "backend 'level': backendOptions.storagePath must be a non-empty string");
    }
    this.#nodeId = typeof init.nodeId === "string" ? init.nodeId : "";
    this.#location = typeof init.nodeId === "string" && init.standalone !== true ? `${storagePath}/${init.nodeId}` : storagePath;
    // Sublevel names: hex, so no topic name can collide with the separator.
    this.#name = `${hex(init.topic)}-${init.bucketId}`;
  }

  #open(): Promise<Sublevel> {
    if (this.#closed) return Promise.reject(new PulsingRuntimeError(ErrorCode.INVALID_STATE, "backend 'level': the bucket is closed"));
    if (this.#bucket === undefined) {
      let db: Promise<Database>;
      try {
        db = openDatabase(this.#location, this.#nodeId);
      } catch (error) {
        return Promise.reject(error);
      }
      this.#bucket = db.then((db) => db.sublevel<string, Uint8Array>(this.#name, { valueEncoding: "view" }));
    }
    return this.#bucket;
  }

  async put(record: QueueRecord): Promise<void> {
    await this.putBatch([record]);
  }

  async putBatch(records: readonly QueueRecord[], meta?: BucketMeta): Promise<void> {
    const bucket = await this.#open();
    const count = await this.totalCount();
    const operations: Array<{ type: "put"; key: string; value: Uint8Array }> = records.map((record, i) => ({
      type: "put",
      key: recordKey(count + i),
      value: encode(record, "queue record"),
    }));
    if (meta !== undefined) operations.push({ type: "put", key: META_KEY, value: encode(meta, "bucket meta") });
    await bucket.batch(operations);
    this.#count = count + records.length;
  }

  async get(limit: number, offset: number): Promise<QueueRecord[]> {
    if (limit <= 0) return [];
    const bucket = await this.#open();
    const values = await bucket.values({ gte: recordKey(offset), lt: RECORDS_END, limit }).all();
    return values.map((value) => decode(value) as QueueRecord);
  }

  async *getStream(limit: number, offset: number): AsyncIterable<QueueRecord[]> {
    if (!(limit >= 1)) throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "getStream(): 'limit' must be at least 1");
    for (let at = offset; ; at += limit) {
      const records = await this.get(limit, at);
      if (records.length === 0) return;
      yield records;
    }
  }

  async flush(): Promise<void> {}

  async stats(): Promise<Record<string, unknown>> {
    return { backend: "level", location: this.#location, totalCount: await this.totalCount() };
  }

  async totalCount(): Promise<number> {
    if (this.#count === undefined) {
      const bucket = await this.#open();
      // The last record's key is the count − 1: records are never removed one by one.
      const [last] = await bucket.keys({ gte: RECORDS_START, lt: RECORDS_END, reverse: true, limit: 1 }).all();
      this.#count = last === undefined ? 0 : Number.parseInt(last.slice(1), 16) + 1;
    }
    return this.#count;
  }

  async loadMeta(): Promise<BucketMeta | undefined> {
    const bucket = await this.#open();
    const bytes = await bucket.get(META_KEY);
    return bytes === undefined ? undefined : (decode(bytes) as BucketMeta);
  }

  async saveMeta(meta: BucketMeta): Promise<void> {
    await (await this.#open()).put(META_KEY, encode(meta, "bucket meta"));
  }

  /** Drops the bucket's records and meta (its copy was replaced, or handed to another node). */
  async clear(): Promise<void> {
    await (await this.#open()).clear();
    this.#count = 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#bucket !== undefined) {
      this.#bucket = undefined;
      await releaseDatabase(this.#location);
    }
  }
}

const META_KEY = "m";
const RECORDS_START = "r";
const RECORDS_END = "s";
const recordKey = (offset: number): string => `r${offset.toString(16).padStart(13, "0")}`;

const hex = (text: string): string => Array.from(new TextEncoder().encode(text), (byte) => byte.toString(16).padStart(2, "0")).join("");

const isBrowser = (): boolean => typeof (globalThis as { document?: unknown }).document !== "undefined" || typeof (globalThis as { importScripts?: unknown }).importScripts === "function";

/** What this module uses of a `level` database and its sublevels (the package's own types are not needed here). */
interface Sublevel {
  batch(operations: Array<{ type: "put"; key: string; value: Uint8Array }>): Promise<void>;
  values(range: { gte: string; lt: string; limit: number }): { all(): Promise<Uint8Array[]> };
  keys(range: { gte: string; lt: string; reverse: boolean; limit: number }): { all(): Promise<string[]> };
  get(key: string): Promise<Uint8Array | undefined>;
  put(key: string, value: Uint8Array): Promise<void>;
  clear(): Promise<void>;
}

interface Database {
  sublevel<K, V>(name: string, options: { valueEncoding: "view" }): Sublevel & { _k?: K; _v?: V };
  open(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Open databases by location, with the node using each and its number of buckets there (the last one to go closes
 * it). Another node of this process is refused as another process would be (LevelDB's lock does not see threads of
 * one process, and IndexedDB has no lock at all).
 */
const databases = new Map<string, { db: Promise<Database>; users: number; nodeId: string }>();
/** Databases being closed: LevelDB keeps its lock until then, so opening one again waits for it. */
const closing = new Map<string, Promise<void>>();

function openDatabase(location: string, nodeId: string): Promise<Database> {
  let entry = databases.get(location);
  if (entry !== undefined && entry.nodeId !== nodeId) {
    throw new PulsingRuntimeError(ErrorCode.STORAGE_FAILED, `backend 'level': '${location}' is in use by another node of this process (${entry.nodeId})`);
  }
  if (entry === undefined) {
    const db = (async (): Promise<Database> => {
      await closing.get(location);
      // Loaded on first use: a node that never keeps a `level` queue never loads LevelDB's native module.
      const { Level } = (await import("level")) as unknown as { Level: new (location: string, options: object) => Database };
      const db = new Level(location, { valueEncoding: "view", createIfMissing: true });
      try {
        await db.open();
      } catch (error) {
        databases.delete(location);
        throw new PulsingRuntimeError(
          ErrorCode.STORAGE_FAILED,
          `backend 'level': cannot open '${location}' (${(error as { code?: string }).code ?? (error as Error).message}; is another process using it?)`,
        );
      }
      return db;
    })();
    entry = { db, users: 0, nodeId };
    databases.set(location, entry);
  }
  entry.users++;
  return entry.db;
}

async function releaseDatabase(location: string): Promise<void> {
  const entry = databases.get(location);
  if (entry === undefined) return;
  if (--entry.users > 0) return;
  databases.delete(location);
  const closed = entry.db.then(
    (db) => db.close(),
    () => {},
  );
  closing.set(location, closed);
  try {
    await closed;
  } finally {
    if (closing.get(location) === closed) closing.delete(location);
  }
}
