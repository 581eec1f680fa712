import { registerClass } from "../actor/class-registry.js";
import { currentContext } from "../actor/context.js";
import type { ActorProxy } from "../actor/proxy-types.js";
import { DEFAULT_SUPERVISION } from "../actor/supervision.js";
import { ErrorCode, PulsingError, PulsingRuntimeError } from "../errors/errors.js";
import { backendClass, type QueueRecord, type StorageBackend } from "./backend.js";
import { bucketKey, closestNodes } from "./bucket.js";
import { BucketStore, type BucketState } from "./bucket-store.js";
import { bucketOwners, queueHost, type QueueHost } from "./queue-host.js";

/** The name of every node's queue storage (one instance per node that holds buckets; pinned by node id). */
export const QUEUE_STORAGE_NAME = "pulsing/queue-storage";

/** How a bucket is set up on its owner (from the writer's or reader's options). */
export interface BucketSpec {
  backend: string;
  backendOptions: Record<string, unknown>;
  /** Copies of the bucket: the owner and `replication − 1` followers (the next closest). @default 1 */
  replication?: number;
  /** `"all"`: a batch is acknowledged once every follower has it too; `"leader"`: once the owner has it. */
  acks?: "leader" | "all";
}

/** An owner's answer: done, or "not mine: ask `redirect`" (views differ while membership changes). */
export type Owned<T> = { ok: true; value: T } | { ok: false; redirect: string };

/** One bucket copy on this node, as `QueueStorage.inventory()` lists it (for the dashboard, `inspect`, `/metrics`). */
export interface BucketInventory {
  topic: string;
  bucketId: number;
  /** `owner`: this node serves the bucket; `replica`: a follower's copy of a bucket another node owns. */
  role: "owner" | "replica";
  totalCount: number;
  /** Records appended to / read from this copy since it was made here (counters: rates come from two samples). */
  written: number;
  read: number;
  backend: string;
  replication: number;
  /** The followers (owner only): node id → the count each last reported. */
  followers?: Record<string, number>;
}

/** Nodes asked for a bucket's records when this node becomes its owner (the previous owner is one of the closest). */
const TAKE_OVER_CANDIDATES = 3;
/** How long a hand-over call may take. */
const HAND_OVER_TIMEOUT_MS = 30_000;

/**
 * A node's buckets (Pulsing's `StorageManager` and `BucketStorage` in one actor). A node serves a bucket it holds.
 * A node that does not hold one serves it only if it is the bucket's owner in its own view, and then only after
 * taking the bucket over from the node that held it (a node that joined closer to it): that node hands over its
 * records, writers' batch numbers and group offsets, and from then on redirects to the new owner, whatever its own
 * view says (a fence: no write can land on the old owner after the hand-over). Otherwise the answer is a redirect.
 * A node that shuts down hands its buckets to their next owners first.
 */
export class QueueStorage {
  readonly #buckets = new Map<string, { bucket: BucketStore; spec: BucketSpec; topic: string; bucketId: number }>();
  /** Buckets this node handed over, and to whom. */
  readonly #moved = new Map<string, string>();
  readonly #takingOver = new Map<string, Promise<BucketStore>>();
  /** Followers' copies of buckets other nodes own. */
  readonly #replicas = new Map<string, BucketStore>();
  /** The spec each replica was made with (for the inventory). */
  readonly #replicaSpecs = new Map<string, { spec: BucketSpec; topic: string; bucketId: number }>();
  /** Per bucket this node owns: each follower's count, as it last said, and the sync under way. */
  readonly #followers = new Map<string, { counts: Map<string, number>; syncing: Promise<void> }>();
  #nodeId: string | undefined;

  #host(): QueueHost | undefined {
    this.#nodeId ??= currentContext().nodeId;
    return queueHost(this.#nodeId);
  }

  /** The bucket to serve, or where to go instead. */
  async #serve(topic: string, bucketId: number, spec: BucketSpec): Promise<{ bucket: BucketStore } | { redirect: string }> {
    const key = bucketKey(topic, bucketId);
    const held = this.#buckets.get(key);
    if (held !== undefined) return { bucket: held.bucket };
    const host = this.#host();
    const self = this.#nodeId!;
    // The fence: a bucket handed over is the new owner's, even before this node's view knows that node (only its
    // death in this view lets this node take the bucket back).
    const moved = this.#moved.get(key);
    if (moved !== undefined && host?.members().find((m) => m.nodeId === moved)?.status !== "dead") return { redirect: moved };
    const owner = host === undefined ? self : closestNodes(key, bucketOwners(host), 1)[0];
    if (owner !== undefined && owner !== self) return { redirect: owner };
    let taking = this.#takingOver.get(key);
    if (taking === undefined) {
      taking = this.#takeOver(host, topic, bucketId, spec).finally(() => this.#takingOver.delete(key));
      this.#takingOver.set(key, taking);
    }
    return { bucket: await taking };
  }

  /** A backend for a bucket kept on this node (a `level` one keeps its files under this node's id in a cluster). */
  #backendFor(spec: BucketSpec, topic: string, bucketId: number): StorageBackend {
    const Backend = backendClass(spec.backend);
    const host = this.#host();
    return new Backend({ ...spec.backendOptions, topic, bucketId, nodeId: this.#nodeId ?? currentContext().nodeId, standalone: host === undefined || !host.clustered });
  }

  /** This node is the owner and holds nothing: the bucket's records come from whichever close node holds them. */
  async #takeOver(host: QueueHost | undefined, topic: string, bucketId: number, spec: BucketSpec): Promise<BucketStore> {
    const key = bucketKey(topic, bucketId);
    const self = this.#nodeId!;
    backendClass(spec.backend); // an unknown backend fails here, before any node hands its bucket over
    let state: BucketState | undefined;
    if (host !== undefined && host.clustered) {
      const others = bucketOwners(host).filter((node) => node !== self);
      for (const node of closestNodes(key, others, TAKE_OVER_CANDIDATES)) {
        try {
          state = await (await storageOn(host, node)).withOptions({ timeout: HAND_OVER_TIMEOUT_MS }).handOver(topic, bucketId, self);
        } catch {
          continue; // gone or unreachable: its records (if it held the bucket) are lost with it
        }
        if (state !== undefined) break;
      }
    }
    let bucket: BucketStore;
    if (state !== undefined) bucket = await BucketStore.from(state, this.#backendFor(spec, topic, bucketId));
    else {
      // The owner is gone without handing over: a follower's copy carries on (this node's own, else what a persistent
      // backend kept here, else the longest copy of another follower).
      const mine = this.#replicas.get(key);
      this.#replicas.delete(key);
      this.#replicaSpecs.delete(key);
      const backend = mine === undefined ? this.#backendFor(spec, topic, bucketId) : undefined;
      const kept = backend !== undefined ? await BucketStore.restore(backend) : undefined;
      let copy: BucketState | undefined;
      if (mine === undefined && host !== undefined && host.clustered) {
        const others = bucketOwners(host).filter((node) => node !== self);
        for (const node of closestNodes(key, others, Math.max(TAKE_OVER_CANDIDATES, (spec.replication ?? 1) + 1))) {
          const theirs = await storageOn(host, node)
            .then((storage) => storage.withOptions({ timeout: HAND_OVER_TIMEOUT_MS }).replicaState(topic, bucketId))
            .catch(() => undefined);
          if (theirs !== undefined && (copy === undefined || theirs.records.length > copy.records.length)) copy = theirs;
        }
      }
      // What this node kept wins unless another follower has a longer copy of the same lineage.
      if (kept !== undefined && copy !== undefined && !(copy.epoch === kept.epoch && copy.records.length > (await kept.totalCount()))) copy = undefined;
      bucket = mine ?? (copy !== undefined ? await BucketStore.from(copy, backend!) : (kept ?? new BucketStore(backend!)));
    }
    this.#buckets.set(key, { bucket, spec, topic, bucketId });
    this.#moved.delete(key);
    return bucket;
  }

  /**
   * Another node became the owner of a bucket this node holds: its state, and this node redirects to `to` from now
   * on. Undefined when this node does not hold the bucket.
   */
  async handOver(topic: string, bucketId: number, to: string): Promise<BucketState | undefined> {
    checkBucket(topic, bucketId);
    if (typeof to !== "string" || to.length === 0) throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue handOver: expected the new owner's node id");
    const key = bucketKey(topic, bucketId);
    const held = this.#buckets.get(key);
    if (held === undefined) return undefined;
    // The fence first: what arrives from now on goes to the new owner; what is under way is in the export.
    this.#buckets.delete(key);
    this.#moved.set(key, to);
    held.bucket.seal();
    const state = await held.bucket.export();
    void held.bucket.discard();
    return state;
  }

  /** A node that is shutting down hands this node a bucket (it is the next owner in that node's view). */
  async accept(topic: string, bucketId: number, spec: BucketSpec, state: BucketState): Promise<boolean> {
    checkBucket(topic, bucketId);
    checkSpec(spec);
    checkState(state);
    const key = bucketKey(topic, bucketId);
    backendClass(spec.backend);
    const held = this.#buckets.get(key);
    if (held !== undefined) {
      // Both held it (a hand-over raced a take-over): keep the longer history.
      if ((await held.bucket.totalCount()) >= state.records.length) return true;
      await held.bucket.close();
    }
    const replica = this.#replicas.get(key);
    if (replica !== undefined) {
      // This node followed the bucket: the owner's state replaces its copy (same files for a persistent backend).
      this.#replicas.delete(key);
      this.#replicaSpecs.delete(key);
      await replica.close();
    }
    const bucket = await BucketStore.from(state, this.#backendFor(spec, topic, bucketId));
    this.#buckets.set(key, { bucket, spec, topic, bucketId });
    this.#moved.delete(key);
    return true;
  }

  async put(topic: string, bucketId: number, spec: BucketSpec, producer: string, seq: number, records: QueueRecord[]): Promise<Owned<{ stored: boolean; totalCount: number; epoch: string }>> {
    checkBucket(topic, bucketId);
    checkSpec(spec);
    if (typeof producer !== "string" || !Number.isSafeInteger(seq) || seq < 0 || !Array.isArray(records)) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue put: expected a producer id, a batch number ≥ 0 and an array of records");
    }
    const notRecord = records.findIndex((r) => typeof r !== "object" || r === null || Array.isArray(r));
    if (notRecord >= 0) throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `queue put: record ${notRecord} is not an object`);
    const served = await this.#serve(topic, bucketId, spec);
    if ("redirect" in served) return { ok: false, redirect: served.redirect };
    const stored = await served.bucket.append(producer, seq, records);
    // Handed over while this batch waited its turn: it goes to the new owner (the writer follows the redirect).
    if (stored === "sealed") return { ok: false, redirect: this.#moved.get(bucketKey(topic, bucketId)) ?? this.#nodeId! };
    if ((spec.replication ?? 1) > 1) {
      const replicating = this.#replicate(topic, bucketId, spec, served.bucket);
      if (spec.acks === "all") await replicating;
      else replicating.catch(() => {}); // caught up by the next batch's sync
    }
    return { ok: true, value: stored };
  }

  /** Brings this bucket's followers up to date (one sync at a time per bucket; a follower says what it lacks). */
  #replicate(topic: string, bucketId: number, spec: BucketSpec, bucket: BucketStore): Promise<void> {
    const key = bucketKey(topic, bucketId);
    let followers = this.#followers.get(key);
    if (followers === undefined) this.#followers.set(key, (followers = { counts: new Map(), syncing: Promise.resolve() }));
    const { counts } = followers;
    const run = async (): Promise<void> => {
      const host = this.#host();
      if (host === undefined || !host.clustered) return;
      const self = this.#nodeId!;
      const targets = closestNodes(key, bucketOwners(host), spec.replication ?? 1).filter((node) => node !== self);
      await Promise.all(
        targets.map(async (node) => {
          let from = counts.get(node) ?? 0;
          for (let round = 0; round < 3; round++) {
            const storage = (await storageOn(host, node)).withOptions({ timeout: HAND_OVER_TIMEOUT_MS });
            const answer = await storage.replicate(topic, bucketId, spec, bucket.epoch, from, await bucket.recordsFrom(from), bucket.lastBatches());
            if ("count" in answer) {
              counts.set(node, answer.count);
              return;
            }
            from = answer.need;
          }
          throw new PulsingRuntimeError(ErrorCode.CONNECTION_LOST, `queue '${topic}': follower ${node} of bucket ${bucketId} did not catch up`);
        }),
      );
    };
    const syncing = followers.syncing.catch(() => {}).then(run);
    followers.syncing = syncing;
    return syncing;
  }

  /** A follower's side: the owner's records from `fromOffset` (see `BucketStore.sync`); a new lineage starts over. */
  async replicate(
    topic: string,
    bucketId: number,
    spec: BucketSpec,
    epoch: string,
    fromOffset: number,
    records: QueueRecord[],
    lastBatch: Array<[string, number]>,
  ): Promise<{ count: number } | { need: number }> {
    checkBucket(topic, bucketId);
    checkSpec(spec);
    if (typeof epoch !== "string" || !Number.isSafeInteger(fromOffset) || fromOffset < 0 || !Array.isArray(records) || !Array.isArray(lastBatch)) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue replicate: expected an epoch, an offset ≥ 0, records and batch numbers");
    }
    const key = bucketKey(topic, bucketId);
    let replica = this.#replicas.get(key);
    if (replica !== undefined && replica.epoch !== epoch) {
      this.#replicas.delete(key);
      this.#replicaSpecs.delete(key);
      await replica.close();
      replica = undefined;
    }
    if (replica === undefined) {
      // A new copy, or what a persistent backend kept of this lineage (this follower restarted): a copy that lacks
      // records before `fromOffset` says what it needs.
      replica = await BucketStore.replica(this.#backendFor(spec, topic, bucketId), epoch);
      if (this.#replicas.has(key)) {
        await replica.close(); // made meanwhile by a sync that overtook this one
        replica = this.#replicas.get(key)!;
      } else {
        this.#replicas.set(key, replica);
        this.#replicaSpecs.set(key, { spec, topic, bucketId });
      }
    }
    return replica.sync(fromOffset, records, lastBatch);
  }

  /** This node's follower copy of a bucket (for an owner that takes over from a dead one), if it has one. */
  async replicaState(topic: string, bucketId: number): Promise<BucketState | undefined> {
    checkBucket(topic, bucketId);
    return this.#replicas.get(bucketKey(topic, bucketId))?.export();
  }

  async get(topic: string, bucketId: number, spec: BucketSpec, offset: number, limit: number, waitMs: number): Promise<Owned<QueueRecord[]>> {
    checkBucket(topic, bucketId);
    checkSpec(spec);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(limit) || limit < 1 || typeof waitMs !== "number" || !(waitMs >= 0)) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue get: expected an offset ≥ 0, a limit ≥ 1 and a wait ≥ 0");
    }
    const served = await this.#serve(topic, bucketId, spec);
    if ("redirect" in served) return { ok: false, redirect: served.redirect };
    const records = await served.bucket.read(offset, limit, Math.min(waitMs, 60_000));
    // Handed over while this read waited: the records are the new owner's to give (the offsets stay valid there).
    if (records.length === 0 && this.#moved.has(bucketKey(topic, bucketId))) return { ok: false, redirect: this.#moved.get(bucketKey(topic, bucketId))! };
    return { ok: true, value: records };
  }

  async commit(topic: string, bucketId: number, spec: BucketSpec, group: string, offset: number): Promise<Owned<number>> {
    checkBucket(topic, bucketId);
    checkSpec(spec);
    checkGroup(group);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue commit: expected an offset ≥ 0");
    const served = await this.#serve(topic, bucketId, spec);
    if ("redirect" in served) return { ok: false, redirect: served.redirect };
    await served.bucket.commit(group, offset);
    return { ok: true, value: served.bucket.committed(group) };
  }

  async committed(topic: string, bucketId: number, spec: BucketSpec, group: string): Promise<Owned<number>> {
    checkBucket(topic, bucketId);
    checkSpec(spec);
    checkGroup(group);
    const served = await this.#serve(topic, bucketId, spec);
    if ("redirect" in served) return { ok: false, redirect: served.redirect };
    return { ok: true, value: served.bucket.committed(group) };
  }

  /** The bucket's figures (count, epoch, backend's), or the owner to ask. */
  async stats(topic: string, bucketId: number, spec: BucketSpec): Promise<Owned<Record<string, unknown>>> {
    checkBucket(topic, bucketId);
    checkSpec(spec);
    const served = await this.#serve(topic, bucketId, spec);
    if ("redirect" in served) return { ok: false, redirect: served.redirect };
    return { ok: true, value: await served.bucket.stats() };
  }

  /**
   * This node is about to leave: each bucket it holds goes to its next owner (the closest other full member in this
   * node's view), which keeps it whatever its own view says; this node redirects there from then on.
   */
  async handOverAll(): Promise<number> {
    const host = this.#host();
    const self = this.#nodeId;
    if (host === undefined || !host.clustered) return 0;
    let handed = 0;
    await Promise.allSettled(
      [...this.#buckets.entries()].map(async ([key, entry]) => {
        const { bucket, spec, topic, bucketId } = entry;
        const next = closestNodes(key, bucketOwners(host).filter((node) => node !== self), 1)[0];
        if (next === undefined) return;
        this.#buckets.delete(key);
        this.#moved.set(key, next);
        bucket.seal();
        try {
          const state = await bucket.export();
          await (await storageOn(host, next)).withOptions({ timeout: HAND_OVER_TIMEOUT_MS }).accept(topic, bucketId, spec, state);
          handed++;
          await bucket.discard();
        } catch {
          // Not taken: this node keeps the bucket (its records are not dropped on the way out).
          bucket.unseal();
          this.#moved.delete(key);
          this.#buckets.set(key, entry);
        }
      }),
    );
    return handed;
  }

  /** The bucket copies this node holds, with their counts and counters. */
  async inventory(): Promise<BucketInventory[]> {
    const owned = await Promise.all(
      [...this.#buckets.entries()].map(async ([key, { bucket, spec, topic, bucketId }]): Promise<BucketInventory> => {
        const followers = this.#followers.get(key)?.counts;
        return {
          topic,
          bucketId,
          role: "owner",
          totalCount: await bucket.totalCount(),
          written: bucket.written,
          read: bucket.readOut,
          backend: spec.backend,
          replication: spec.replication ?? 1,
          ...(followers !== undefined && followers.size > 0 ? { followers: Object.fromEntries(followers) } : {}),
        };
      }),
    );
    const replicas = await Promise.all(
      [...this.#replicas.entries()].map(async ([key, bucket]): Promise<BucketInventory> => {
        const made = this.#replicaSpecs.get(key);
        const [topic, bucketId] = made !== undefined ? [made.topic, made.bucketId] : [key, -1];
        return {
          topic,
          bucketId,
          role: "replica",
          totalCount: await bucket.totalCount(),
          written: bucket.written,
          read: bucket.readOut,
          backend: made?.spec.backend ?? "memory",
          replication: made?.spec.replication ?? 1,
        };
      }),
    );
    return [...owned, ...replicas].sort((a, b) => (a.topic === b.topic ? a.bucketId - b.bucketId : a.topic < b.topic ? -1 : 1));
  }

  async onStop(): Promise<void> {
    const held = [...[...this.#buckets.values()].map((entry) => entry.bucket), ...this.#replicas.values()];
    this.#buckets.clear();
    this.#replicas.clear();
    this.#replicaSpecs.clear();
    await Promise.allSettled(held.map((bucket) => bucket.close()));
  }
}

// Every node knows the class, so a writer can start a node's storage there (`spawn(QueueStorage, { node })`).
registerClass(QueueStorage, "pulsing.QueueStorage", { ...DEFAULT_SUPERVISION });

/** `node`'s queue storage, started there when it is not running yet (every node registers the class). */
export async function storageOn(host: QueueHost, node: string): Promise<ActorProxy<QueueStorage>> {
  const found = await host.resolve(QUEUE_STORAGE_NAME, { nodeId: node }).catch(() => undefined);
  if (found !== undefined) return found.asType(QueueStorage);
  try {
    return (await host.spawn(QueueStorage, { name: QUEUE_STORAGE_NAME, public: true, ...(node === host.nodeId ? {} : { node }) })).asType(QueueStorage);
  } catch (error) {
    // Started meanwhile by another writer or reader.
    if (error instanceof PulsingError && (error as { code?: string }).code === ErrorCode.NAME_TAKEN) {
      return (await host.resolve(QUEUE_STORAGE_NAME, { nodeId: node, timeout: 5_000 })).asType(QueueStorage);
    }
    throw error;
  }
}

function checkSpec(spec: unknown): asserts spec is BucketSpec {
  const s = spec as Partial<BucketSpec> | null;
  if (typeof s !== "object" || s === null || typeof s.backend !== "string" || typeof s.backendOptions !== "object" || s.backendOptions === null) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue: expected a bucket spec { backend, backendOptions }");
  }
  if (s.replication !== undefined && (!Number.isSafeInteger(s.replication) || s.replication < 1)) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue: a bucket spec's replication must be an integer ≥ 1");
  }
}

function checkGroup(group: unknown): string {
  if (typeof group !== "string" || group.length === 0 || group.length > 256) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue: a reader group must be a non-empty string of at most 256 characters");
  }
  return group;
}

function checkBucket(topic: unknown, bucketId: unknown): void {
  if (typeof topic !== "string" || topic.length === 0 || !Number.isSafeInteger(bucketId) || (bucketId as number) < 0) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue: expected a topic name and a bucket id ≥ 0");
  }
}

function checkState(state: unknown): asserts state is BucketState {
  const s = state as Partial<BucketState> | null;
  if (typeof s !== "object" || s === null || typeof s.epoch !== "string" || !Array.isArray(s.records) || !Array.isArray(s.lastBatch) || !Array.isArray(s.committed)) {
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "queue accept: not a bucket's state");
  }
}

/** Before a node leaves: its queue storage, if it runs, hands every bucket to its next owner. */
export async function handOverQueues(host: QueueHost): Promise<void> {
  if (!host.clustered) return;
  const storage = await host.resolve(QUEUE_STORAGE_NAME, { nodeId: host.nodeId }).catch(() => undefined);
  if (storage === undefined || storage.actorId.nodeId !== host.nodeId) return;
  await storage.asType(QueueStorage).withOptions({ timeout: 2 * HAND_OVER_TIMEOUT_MS }).handOverAll();
}

/** The bucket copies `host`'s node holds (none when its queue storage is not running). */
export async function queueInventory(host: QueueHost): Promise<BucketInventory[]> {
  const storage = await host.resolve(QUEUE_STORAGE_NAME, { nodeId: host.nodeId }).catch(() => undefined);
  if (storage === undefined || storage.actorId.nodeId !== host.nodeId) return [];
  return storage.asType(QueueStorage).inventory();
}
