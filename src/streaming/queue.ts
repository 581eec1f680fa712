import type { ActorProxy } from "../actor/proxy-types.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { checkOptions, integer, nested, oneOf, show, string, type Check, type OptionSchema } from "../util/options.js";
import { registerBackend, type QueueRecord, type StorageBackendClass } from "./backend.js";
import { bucketKey, bucketOf, closestNodes } from "./bucket.js";
import { bucketOwners, type QueueHost } from "./queue-host.js";
import { storageOn, type BucketSpec, type Owned, type QueueStorage } from "./queue-storage.js";

/** Options of `queue.write()` (Pulsing's `write_queue`). */
export interface QueueWriteOptions {
  /** The record field whose value picks the bucket. @default "id" */
  bucketColumn?: string;
  /** @default 4 */
  numBuckets?: number;
  /** Records per bucket sent in one batch. @default 100 */
  batchSize?: number;
  /** `"memory"` (default) or a name given to `queue.registerBackend()` on the owning nodes. */
  backend?: string;
  backendOptions?: Record<string, unknown>;
  /** Copies of each bucket: its owner and the next closest nodes as followers (a killed owner's follower carries on). @default 1 */
  replication?: number;
  /** `"leader"`: a record is acknowledged once its owner stored it; `"all"`: once every follower has it too. @default "leader" */
  acks?: "leader" | "all";
}

/** Options of `queue.read()` (Pulsing's `read_queue`): which buckets, and the reader group. */
export interface QueueReadOptions {
  bucketId?: number;
  bucketIds?: number[];
  /** With `worldSize`: this reader takes the buckets `i` with `i % worldSize === rank`. */
  rank?: number;
  worldSize?: number;
  /** @default 4 */
  numBuckets?: number;
  backend?: string;
  backendOptions?: Record<string, unknown>;
  /** A reader group: its offsets are committed to the buckets (`commit()`), and a new reader of it resumes there. */
  group?: string;
}

export interface QueueGetOptions {
  /** @default 100 */
  limit?: number;
  /** Wait for a record when there is none yet. @default false */
  wait?: boolean;
  /** How long to wait (ms). @default 30_000 */
  timeout?: number;
}

/** `writer.stats()`. */
export interface QueueStats {
  topic: string;
  numBuckets: number;
  /** Records put and not yet acknowledged. */
  pending: number;
  buckets: Array<{ bucketId: number; owner: string | undefined; replicas: string[]; totalCount: number | undefined; lost?: boolean; error?: string }>;
}

const plainObject: Check<Record<string, unknown>> = (where, name, value) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: '${name}' must be an object`);
  }
  return value as Record<string, unknown>;
};

const WRITE_OPTIONS = {
  bucketColumn: string,
  numBuckets: integer(1),
  batchSize: integer(1),
  backend: string,
  backendOptions: plainObject,
  replication: integer(1),
  acks: oneOf("leader", "all"),
} satisfies OptionSchema<QueueWriteOptions>;

const READ_OPTIONS = {
  bucketId: integer(0),
  bucketIds: ((where, name, value) => {
    if (!Array.isArray(value) || value.length === 0 || !value.every((v) => Number.isSafeInteger(v) && v >= 0)) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: '${name}' must be a non-empty array of bucket ids (integers ≥ 0)`);
    }
    return value as number[];
  }) as Check<number[]>,
  rank: integer(0),
  worldSize: integer(1),
  numBuckets: integer(1),
  backend: string,
  backendOptions: plainObject,
  group: string,
} satisfies OptionSchema<QueueReadOptions>;

const GET_OPTIONS = {
  limit: integer(1),
  wait: ((where, name, value) => {
    if (typeof value !== "boolean") throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `${where}: '${name}' must be a boolean`);
    return value;
  }) as Check<boolean>,
  timeout: integer(0),
} satisfies OptionSchema<QueueGetOptions>;

/** Redirects followed before a call gives up (views differ only while membership changes). */
const MAX_REDIRECTS = 4;
/** How long a queue call may take beyond what it waits for. */
const CALL_TIMEOUT_MS = 10_000;
/** Batch numbers per `#send` (a send's batches, split ones included, are numbered seq·PARTS + part). */
const PARTS = 2 ** 20;
/** Attempts of a batch (the same batch number each time: its owner stores it once). */
const MAX_ATTEMPTS = 5;

function checkTopic(where: string, topic: unknown): string {
  if (typeof topic !== "string" || topic.length === 0 || topic.length > 256) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `${where}: the queue name must be a non-empty string of at most 256 characters`);
  }
  return topic;
}

/** Calls a bucket's owner: the node closest to the bucket in this view, following its redirects. */
class BucketClient {
  readonly #host: QueueHost;
  readonly #storages = new Map<string, Promise<ActorProxy<QueueStorage>>>();

  constructor(host: QueueHost) {
    this.#host = host;
  }

  owner(topic: string, bucketId: number): string | undefined {
    return this.owners(topic, bucketId, 1)[0];
  }

  /** The `count` nodes closest to the bucket in this view: its owner, then its followers. */
  owners(topic: string, bucketId: number, count: number): readonly string[] {
    return closestNodes(bucketKey(topic, bucketId), bucketOwners(this.#host), count);
  }

  /** `waitMs`: how long the owner may hold the call (a waiting read); a call that outlasts it by 10 s fails (a frozen owner). */
  async call<T>(topic: string, bucketId: number, ask: (storage: ActorProxy<QueueStorage>) => Promise<Owned<T>>, waitMs = 0): Promise<T> {
    let node = this.owner(topic, bucketId);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (node === undefined) throw new PulsingRuntimeError(ErrorCode.NODE_UNREACHABLE, `queue '${topic}': no Node or Deno member to own bucket ${bucketId}`);
      const answer = await ask((await this.#storage(node)).withOptions({ timeout: waitMs + CALL_TIMEOUT_MS }));
      if (answer.ok) return answer.value;
      node = answer.redirect;
    }
    throw new PulsingRuntimeError(ErrorCode.NODE_UNREACHABLE, `queue '${topic}': bucket ${bucketId} was redirected ${MAX_REDIRECTS} times (membership still settling)`);
  }

  #storage(node: string): Promise<ActorProxy<QueueStorage>> {
    let storage = this.#storages.get(node);
    if (storage === undefined) {
      storage = storageOn(this.#host, node);
      this.#storages.set(node, storage);
      storage.catch(() => this.#storages.delete(node));
    }
    return storage;
  }

  forget(node: string | undefined): void {
    if (node !== undefined) this.#storages.delete(node);
  }
}

interface WriterBucket {
  pending: QueueRecord[];
  seq: number;
  sending: Promise<void>;
  /** A batch that failed since the last flush(), which reports it. */
  failure: unknown;
  /** The bucket's lineage when it last acknowledged a batch of this writer (see `stats()`). */
  epoch: string | undefined;
  /** Its lineage changed under this writer: acknowledged records were lost. */
  lost: boolean;
}

/** Writes records to a queue's buckets (`queue.write()`). */
export class QueueWriter {
  readonly topic: string;
  readonly #client: BucketClient;
  readonly #column: string;
  readonly #numBuckets: number;
  readonly #batchSize: number;
  readonly #spec: BucketSpec;
  readonly #producer = crypto.randomUUID();
  /** Per bucket: records not yet sent, the next batch number, and the send under way (batches go in order). */
  readonly #buckets = new Map<number, WriterBucket>();
  #unacknowledged = 0;

  /** @internal */
  constructor(host: QueueHost, topic: string, options: Required<Pick<QueueWriteOptions, "bucketColumn" | "numBuckets" | "batchSize">> & { spec: BucketSpec }) {
    this.topic = topic;
    this.#client = new BucketClient(host);
    this.#column = options.bucketColumn;
    this.#numBuckets = options.numBuckets;
    this.#batchSize = options.batchSize;
    this.#spec = options.spec;
  }

  /**
   * Queues a record (or records) for their buckets; a full batch goes out at once. Resolves once the records are
   * queued; `flush()` resolves once they are acknowledged.
   */
  async put(records: QueueRecord | readonly QueueRecord[]): Promise<void> {
    const list = Array.isArray(records) ? (records as readonly QueueRecord[]) : [records as QueueRecord];
    const placed = list.map((record, i) => {
      if (typeof record !== "object" || record === null || Array.isArray(record)) {
        throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `queue '${this.topic}': record ${i} is not an object`);
      }
      if (!(this.#column in record) || record[this.#column] === undefined) {
        throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `queue '${this.topic}': record ${i} has no bucket column '${this.#column}'`);
      }
      return { record, bucketId: bucketOf(record[this.#column], this.#numBuckets) };
    });
    for (const { record, bucketId } of placed) {
      const bucket = this.#bucket(bucketId);
      bucket.pending.push(record);
      this.#unacknowledged++;
      if (bucket.pending.length >= this.#batchSize) this.#send(bucketId);
    }
  }

  /** Resolves once every record put before it is acknowledged by its bucket's owner; rejects with what failed. */
  async flush(): Promise<void> {
    for (const [bucketId, bucket] of this.#buckets) if (bucket.pending.length > 0) this.#send(bucketId);
    await Promise.all([...this.#buckets.values()].map((bucket) => bucket.sending));
    for (const bucket of this.#buckets.values()) {
      const failure = bucket.failure;
      if (failure === undefined) continue;
      bucket.failure = undefined; // reported once: the records of that batch were not acknowledged
      throw failure;
    }
  }

  /**
   * Each bucket's owner and count. `lost`: the bucket started afresh since this writer's records were acknowledged
   * in it (its owner went away without handing it over: with the memory backend and no replica, those records are
   * gone).
   */
  async stats(): Promise<QueueStats> {
    const buckets = await Promise.all(
      Array.from({ length: this.#numBuckets }, async (_, bucketId) => {
        const owner = this.#client.owner(this.topic, bucketId);
        const mine = this.#buckets.get(bucketId);
        try {
          const stats = await this.#client.call(this.topic, bucketId, (storage) => storage.stats(this.topic, bucketId, this.#spec));
          const lost = mine !== undefined && (mine.lost || (mine.epoch !== undefined && stats.epoch !== mine.epoch));
          return { bucketId, owner, replicas: this.#replicasOf(bucketId), totalCount: (stats.totalCount as number | undefined) ?? 0, ...(lost ? { lost } : {}) };
        } catch (error) {
          return { bucketId, owner, replicas: this.#replicasOf(bucketId), totalCount: undefined, error: (error as Error).message };
        }
      }),
    );
    return { topic: this.topic, numBuckets: this.#numBuckets, pending: this.#unacknowledged, buckets };
  }

  /** The followers of a bucket in this node's view (the next closest after its owner). */
  #replicasOf(bucketId: number): string[] {
    return this.#client.owners(this.topic, bucketId, this.#spec.replication ?? 1).slice(1);
  }

  #bucket(bucketId: number): WriterBucket {
    let bucket = this.#buckets.get(bucketId);
    if (bucket === undefined) this.#buckets.set(bucketId, (bucket = { pending: [], seq: 0, sending: Promise.resolve(), failure: undefined, epoch: undefined, lost: false }));
    return bucket;
  }

  #send(bucketId: number): void {
    const bucket = this.#bucket(bucketId);
    const records = bucket.pending.splice(0, bucket.pending.length);
    const seq = bucket.seq++;
    // After the previous batch of this bucket; a failure is kept until a flush() reports it.
    bucket.sending = bucket.sending.then(() =>
      this.#deliver(bucketId, seq, records).catch((error: unknown) => {
        bucket.failure ??= error;
      }),
    );
  }

  /**
   * Sends one `#send`'s records in batches of `batchSize`, numbered `seq`·2^20 + part. A batch that does not fit in
   * a frame never left this node, so it is split in two under the same number; a record that does not fit alone is
   * refused (reported by `flush()`) and the rest go on.
   */
  async #deliver(bucketId: number, seq: number, records: QueueRecord[]): Promise<void> {
    const batches: QueueRecord[][] = [];
    for (let offset = 0; offset < records.length; offset += this.#batchSize) batches.push(records.slice(offset, offset + this.#batchSize));
    let part = 0;
    let refused: PulsingRuntimeError | undefined;
    while (batches.length > 0) {
      const batch = batches.shift()!;
      const number = seq * PARTS + part;
      let lastError: unknown;
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        try {
          const acknowledged = await this.#client.call(this.topic, bucketId, (storage) => storage.put(this.topic, bucketId, this.#spec, this.#producer, number, batch));
          const bucket = this.#bucket(bucketId);
          if (bucket.epoch !== undefined && bucket.epoch !== acknowledged.epoch) bucket.lost = true;
          bucket.epoch = acknowledged.epoch;
          lastError = undefined;
          break;
        } catch (error) {
          lastError = error;
          // An answer that is an error (bad records, unknown backend) will not change: only a lost owner is retried.
          const code = (error as { code?: string }).code;
          if (code !== ErrorCode.NODE_UNREACHABLE && code !== ErrorCode.CONNECTION_LOST && code !== ErrorCode.NODE_DEAD && code !== ErrorCode.TIMEOUT) break;
          this.#client.forget(this.#client.owner(this.topic, bucketId));
          await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
        }
      }
      if (lastError !== undefined && (lastError as { code?: string }).code === ErrorCode.FRAME_TOO_LARGE) {
        if (batch.length > 1) {
          const half = Math.ceil(batch.length / 2);
          batches.unshift(batch.slice(0, half), batch.slice(half));
        } else {
          this.#unacknowledged -= 1;
          refused ??= new PulsingRuntimeError(
            ErrorCode.FRAME_TOO_LARGE,
            `queue '${this.topic}': a record for bucket ${bucketId} (${this.#column} ${show(batch[0]![this.#column])}) does not fit in a frame: ${(lastError as Error).message}`,
          );
        }
        continue;
      }
      if (lastError !== undefined) {
        // Not acknowledged, and no longer pending: this batch and the rest of this send are the failure flush() reports.
        this.#unacknowledged -= batch.length + batches.reduce((sum, rest) => sum + rest.length, 0);
        throw lastError;
      }
      this.#unacknowledged -= batch.length;
      part++;
    }
    if (refused !== undefined) throw refused;
  }
}

/** A bucket's next records, asked for before a read wanted them (see `QueueReader.#ahead`). */
interface ReadAhead {
  /** The offset they were asked from: taken only by a read from there. */
  offset: number;
  settled: boolean;
  outcome: Promise<{ records: QueueRecord[] } | { error: unknown }>;
}

/** Reads records of some buckets of a queue, each from its own offset (`queue.read()`). */
export class QueueReader implements AsyncIterable<QueueRecord> {
  readonly topic: string;
  readonly bucketIds: readonly number[];
  readonly group: string | undefined;
  readonly #client: BucketClient;
  readonly #spec: BucketSpec;
  readonly #offsets = new Map<number, number>();
  /**
   * Read-ahead: after a read that filled its limit (the bucket has more), the next records of that bucket are
   * already asked for, from the offset the read moved to; the next read there takes them without a round trip.
   * Taken only if the bucket's offset is still the one they were asked from (`setOffset` and `reset` drop them).
   */
  readonly #ahead = new Map<number, ReadAhead>();
  #next = 0;

  /** @internal */
  constructor(host: QueueHost, topic: string, bucketIds: number[], spec: BucketSpec, group: string | undefined) {
    this.topic = topic;
    this.bucketIds = bucketIds;
    this.group = group;
    this.#client = new BucketClient(host);
    this.#spec = spec;
    for (const bucketId of bucketIds) this.#offsets.set(bucketId, 0);
  }

  /** @internal A group reader starts where its group committed. */
  async resume(): Promise<void> {
    if (this.group === undefined) return;
    const group = this.group;
    await Promise.all(
      this.bucketIds.map(async (bucketId) => {
        this.#offsets.set(bucketId, await this.#client.call(this.topic, bucketId, (storage) => storage.committed(this.topic, bucketId, this.#spec, group)));
      }),
    );
  }

  /**
   * Up to `limit` records from this reader's buckets, from each bucket's offset (which moves past them). With
   * `wait`, waits on all its buckets at once for the first record, and returns `[]` at `timeout`.
   */
  async get(options: QueueGetOptions = {}): Promise<QueueRecord[]> {
    checkOptions("reader.get()", options, GET_OPTIONS);
    const limit = options.limit ?? 100;
    const records: QueueRecord[] = [];
    // Round-robin over the buckets, starting after the one the last call started with.
    const order = this.bucketIds.map((_, i) => this.bucketIds[(this.#next + i) % this.bucketIds.length]!);
    this.#next = (this.#next + 1) % this.bucketIds.length;
    for (const bucketId of order) {
      if (records.length >= limit) break;
      records.push(...(await this.#read(bucketId, limit - records.length, 0)));
    }
    if (records.length > 0 || options.wait !== true) return records;
    const deadline = Date.now() + (options.timeout ?? 30_000);
    // An owner holds a waiting read for at most 60 s: wait again until the deadline.
    for (;;) {
      const found = await this.#firstOf(order, limit, Math.max(0, deadline - Date.now()));
      if (found.length > 0 || Date.now() >= deadline) return found;
    }
  }

  /**
   * Every bucket at once; the first to answer with records wins. The others' answers are not taken (their offsets
   * do not move), so nothing is lost: they are read again next time.
   */
  #firstOf(bucketIds: readonly number[], limit: number, waitMs: number): Promise<QueueRecord[]> {
    let settled = false;
    return new Promise<QueueRecord[]>((resolve, reject) => {
      let left = bucketIds.length;
      for (const bucketId of bucketIds) {
        const offset = this.#offsets.get(bucketId)!;
        this.#fetch(bucketId, offset, limit, waitMs).then(
          (found) => {
            left--;
            if (!settled && found.length > 0 && this.#offsets.get(bucketId) === offset) {
              settled = true;
              this.#offsets.set(bucketId, offset + found.length);
              resolve(found);
            } else if (left === 0 && !settled) resolve([]);
          },
          (error: unknown) => {
            left--;
            if (!settled) {
              settled = true;
              reject(error);
            }
          },
        );
      }
    });
  }

  async #read(bucketId: number, limit: number, waitMs: number): Promise<QueueRecord[]> {
    const offset = this.#offsets.get(bucketId)!;
    const ahead = this.#ahead.get(bucketId);
    this.#ahead.delete(bucketId);
    let early: QueueRecord[] | undefined;
    if (ahead?.offset === offset) {
      const settledBefore = ahead.settled;
      const outcome = await ahead.outcome;
      // One still under way when this read came, and failed, gives its error (asking again would wait as long
      // again on an owner that does not answer); one that failed earlier, or found nothing, is asked again.
      if ("error" in outcome && !settledBefore) throw outcome.error;
      if ("records" in outcome) early = outcome.records;
    }
    let found: QueueRecord[];
    if (early !== undefined && early.length >= limit) {
      found = early.slice(0, limit);
      if (early.length > limit) this.#ahead.set(bucketId, { offset: offset + limit, settled: true, outcome: Promise.resolve({ records: early.slice(limit) }) });
    } else if (early !== undefined && early.length > 0) {
      // Fewer than asked: the rest from the bucket now (records may have come since), as a read without it would.
      found = early.concat(await this.#fetch(bucketId, offset + early.length, limit - early.length, waitMs));
    } else {
      found = await this.#fetch(bucketId, offset, limit, waitMs);
    }
    // Unless the offset moved meanwhile (setOffset during the read): then the read is not taken.
    if (this.#offsets.get(bucketId) !== offset) return [];
    const next = offset + found.length;
    this.#offsets.set(bucketId, next);
    if (found.length === limit && !this.#ahead.has(bucketId)) {
      const ahead: ReadAhead = {
        offset: next,
        settled: false,
        outcome: this.#fetch(bucketId, next, limit, 0).then(
          (records) => ({ records }),
          (error: unknown) => ({ error }),
        ),
      };
      void ahead.outcome.then(() => (ahead.settled = true));
      this.#ahead.set(bucketId, ahead);
    }
    return found;
  }

  /** Records from `offset` of the bucket; an answer too big for a frame is asked again for fewer records. */
  async #fetch(bucketId: number, offset: number, limit: number, waitMs: number): Promise<QueueRecord[]> {
    for (let size = limit; ; size = Math.ceil(size / 2)) {
      try {
        return await this.#client.call(this.topic, bucketId, (storage) => storage.get(this.topic, bucketId, this.#spec, offset, size, waitMs), waitMs);
      } catch (error) {
        if ((error as { code?: string }).code !== ErrorCode.FRAME_TOO_LARGE) throw error;
        if (size === 1) {
          throw new PulsingRuntimeError(
            ErrorCode.FRAME_TOO_LARGE,
            `queue '${this.topic}': the record at offset ${offset} of bucket ${bucketId} does not fit in a frame (${(error as Error).message}); setOffset(${offset + 1}, ${bucketId}) skips it`,
          );
        }
      }
    }
  }

  /** Back to the start of every bucket (offset 0). */
  reset(): void {
    for (const bucketId of this.bucketIds) this.#offsets.set(bucketId, 0);
    this.#ahead.clear();
  }

  /** Moves one bucket's offset (or every bucket's). */
  setOffset(offset: number, bucketId?: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "setOffset(): the offset must be an integer ≥ 0");
    if (bucketId !== undefined && !this.#offsets.has(bucketId)) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `setOffset(): this reader does not read bucket ${bucketId} (it reads ${this.bucketIds.join(", ")})`);
    }
    for (const id of bucketId === undefined ? this.bucketIds : [bucketId]) {
      this.#offsets.set(id, offset);
      this.#ahead.delete(id);
    }
  }

  /** This reader's offsets, by bucket. */
  offsets(): Record<number, number> {
    return Object.fromEntries(this.#offsets);
  }

  /** Commits this reader's offsets to its buckets for its group (a reader of the group resumes there). */
  async commit(): Promise<void> {
    const group = this.group;
    if (group === undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `commit(): reader of '${this.topic}' has no group (queue.read(name, { group }))`);
    await Promise.all(
      this.bucketIds.map((bucketId) =>
        this.#client.call(this.topic, bucketId, (storage) => storage.commit(this.topic, bucketId, this.#spec, group, this.#offsets.get(bucketId)!)),
      ),
    );
  }

  /** Records as they arrive, one at a time (pulled: a slow consumer slows the reads). */
  async *[Symbol.asyncIterator](): AsyncIterator<QueueRecord> {
    for (;;) {
      for (const record of await this.get({ limit: 100, wait: true, timeout: 1_000 })) yield record;
    }
  }
}

/** `queue.write()` on `host`. */
export async function writeQueue(host: QueueHost, topic: string, options: QueueWriteOptions = {}): Promise<QueueWriter> {
  checkTopic("queue.write()", topic);
  checkOptions("queue.write()", options, WRITE_OPTIONS);
  const spec = { ...bucketSpec(options), replication: options.replication ?? 1, acks: options.acks ?? "leader" };
  return new QueueWriter(host, topic, {
    bucketColumn: options.bucketColumn ?? "id",
    numBuckets: options.numBuckets ?? 4,
    batchSize: options.batchSize ?? 100,
    spec,
  });
}

/** `queue.read()` on `host`. */
export async function readQueue(host: QueueHost, topic: string, options: QueueReadOptions = {}): Promise<QueueReader> {
  checkTopic("queue.read()", topic);
  checkOptions("queue.read()", options, READ_OPTIONS);
  const numBuckets = options.numBuckets ?? 4;
  const ways = [options.bucketId !== undefined, options.bucketIds !== undefined, options.rank !== undefined || options.worldSize !== undefined].filter(Boolean).length;
  if (ways > 1) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "queue.read(): give one of 'bucketId', 'bucketIds', or 'rank' with 'worldSize'");
  let bucketIds: number[];
  if (options.bucketId !== undefined) bucketIds = [options.bucketId];
  else if (options.bucketIds !== undefined) bucketIds = [...new Set(options.bucketIds)];
  else if (options.rank !== undefined || options.worldSize !== undefined) {
    if (options.rank === undefined || options.worldSize === undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "queue.read(): 'rank' and 'worldSize' go together");
    if (options.rank >= options.worldSize) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `queue.read(): 'rank' (${options.rank}) must be below 'worldSize' (${options.worldSize})`);
    bucketIds = Array.from({ length: numBuckets }, (_, i) => i).filter((i) => i % options.worldSize! === options.rank);
  } else bucketIds = Array.from({ length: numBuckets }, (_, i) => i);
  const outOfRange = bucketIds.find((id) => id >= numBuckets);
  if (outOfRange !== undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `queue.read(): bucket ${outOfRange} is not below 'numBuckets' (${numBuckets})`);
  if (bucketIds.length === 0) throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, `queue.read(): rank ${options.rank} of ${options.worldSize} has no bucket of ${numBuckets}`);
  const reader = new QueueReader(host, topic, bucketIds, bucketSpec(options), options.group);
  await reader.resume();
  return reader;
}

function bucketSpec(options: { backend?: string; backendOptions?: Record<string, unknown> }): BucketSpec {
  const backend = options.backend ?? "memory";
  const storagePath = options.backendOptions?.storagePath;
  if (backend === "level" && storagePath !== undefined && (typeof storagePath !== "string" || storagePath.length === 0)) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_OPTION, "backend 'level': backendOptions.storagePath must be a non-empty string (a directory in Node and Deno, a database name in a browser)");
  }
  return { backend, backendOptions: options.backendOptions ?? {} };
}

/** The queue API of one system (`system.queue`; `pul.queue` is the global system's). */
export interface QueueApi {
  write(topic: string, options?: QueueWriteOptions): Promise<QueueWriter>;
  read(topic: string, options?: QueueReadOptions): Promise<QueueReader>;
  registerBackend(name: string, Backend: StorageBackendClass): void;
}

export function queueApi(host: QueueHost): QueueApi {
  return {
    write: (topic, options) => writeQueue(host, topic, options),
    read: (topic, options) => readQueue(host, topic, options),
    registerBackend,
  };
}
