import { currentContext } from "../actor/context.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { registerClass } from "../actor/class-registry.js";
import { DEFAULT_SUPERVISION } from "../actor/supervision.js";
import { backendClass, type QueueRecord } from "./backend.js";
import { bucketKey, closestNodes } from "./bucket.js";
import { BucketStore } from "./bucket-store.js";
import { bucketOwners, queueHost } from "./queue-host.js";

/** The name of every node's queue storage (one instance per node that holds buckets; pinned by node id). */
export const QUEUE_STORAGE_NAME = "pulsing/queue-storage";

/** How a bucket is set up on its owner (from the writer's or reader's options). */
export interface BucketSpec {
  backend: string;
  backendOptions: Record<string, unknown>;
}

/** An owner's answer: done, or "not mine: ask `redirect`" (views differ while membership changes). */
export type Owned<T> = { ok: true; value: T } | { ok: false; redirect: string };

/**
 * A node's buckets (Pulsing's `StorageManager` and `BucketStorage` in one actor): created on first use, answered
 * only while this node is the bucket's owner in its own view; otherwise the answer names the owner it sees.
 */
export class QueueStorage {
  readonly #buckets = new Map<string, BucketStore>();

  #owned(topic: string, bucketId: number): string | undefined {
    const { nodeId } = currentContext();
    const host = queueHost(nodeId);
    if (host === undefined) return undefined; // a storage without its system: serve (it is going away)
    const owner = closestNodes(bucketKey(topic, bucketId), bucketOwners(host), 1)[0];
    return owner === undefined || owner === nodeId ? undefined : owner;
  }

  #bucket(topic: string, bucketId: number, spec: BucketSpec): BucketStore {
    const key = bucketKey(topic, bucketId);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      const Backend = backendClass(spec.backend);
      bucket = new BucketStore(new Backend({ ...spec.backendOptions, topic, bucketId }));
      this.#buckets.set(key, bucket);
    }
    return bucket;
  }

  async put(topic: string, bucketId: number, spec: BucketSpec, producer: string, seq: number, records: QueueRecord[]): Promise<Owned<{ stored: boolean; totalCount: number }>> {
    checkBucket(topic, bucketId);
    if (typeof producer !== "string" || !Number.isSafeInteger(seq) || !Array.isArray(records)) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue put: expected a producer id, a batch number and an array of records");
    }
    const redirect = this.#owned(topic, bucketId);
    if (redirect !== undefined) return { ok: false, redirect };
    return { ok: true, value: await this.#bucket(topic, bucketId, spec).append(producer, seq, records) };
  }

  async get(topic: string, bucketId: number, spec: BucketSpec, offset: number, limit: number, waitMs: number): Promise<Owned<QueueRecord[]>> {
    checkBucket(topic, bucketId);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(limit) || limit < 1 || typeof waitMs !== "number" || !(waitMs >= 0)) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue get: expected an offset ≥ 0, a limit ≥ 1 and a wait ≥ 0");
    }
    const redirect = this.#owned(topic, bucketId);
    if (redirect !== undefined) return { ok: false, redirect };
    return { ok: true, value: await this.#bucket(topic, bucketId, spec).read(offset, limit, Math.min(waitMs, 60_000)) };
  }

  async commit(topic: string, bucketId: number, spec: BucketSpec, group: string, offset: number): Promise<Owned<number>> {
    checkBucket(topic, bucketId);
    const redirect = this.#owned(topic, bucketId);
    if (redirect !== undefined) return { ok: false, redirect };
    const bucket = this.#bucket(topic, bucketId, spec);
    bucket.commit(String(group), offset);
    return { ok: true, value: bucket.committed(String(group)) };
  }

  async committed(topic: string, bucketId: number, spec: BucketSpec, group: string): Promise<Owned<number>> {
    checkBucket(topic, bucketId);
    const redirect = this.#owned(topic, bucketId);
    if (redirect !== undefined) return { ok: false, redirect };
    return { ok: true, value: this.#bucket(topic, bucketId, spec).committed(String(group)) };
  }

  /** The bucket's count and backend figures, when this node holds it (undefined when it holds none). */
  async stats(topic: string, bucketId: number): Promise<Record<string, unknown> | undefined> {
    return this.#buckets.get(bucketKey(topic, bucketId))?.stats();
  }

  async onStop(): Promise<void> {
    await Promise.allSettled([...this.#buckets.values()].map((bucket) => bucket.close()));
  }
}

// Every node knows the class, so a writer can start a node's storage there (`spawn(QueueStorage, { node })`).
registerClass(QueueStorage, "pulsing.QueueStorage", { ...DEFAULT_SUPERVISION });

function checkBucket(topic: unknown, bucketId: unknown): void {
  if (typeof topic !== "string" || topic.length === 0 || !Number.isSafeInteger(bucketId) || (bucketId as number) < 0) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue: expected a topic name and a bucket id ≥ 0");
  }
}
