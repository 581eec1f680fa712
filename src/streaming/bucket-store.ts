import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { BucketMeta, QueueRecord, StorageBackend } from "./backend.js";

/** A bucket as it moves to its next owner: its records and everything that goes with them. */
export interface BucketState {
  /** The bucket's lineage: kept across hand-overs, new when a bucket starts empty (a writer that sees it change knows records were lost). */
  epoch: string;
  records: QueueRecord[];
  lastBatch: Array<[string, number]>;
  committed: Array<[string, number]>;
}

/**
 * One bucket on the node that owns it: its backend, the last batch of each writer (a retried batch is stored once),
 * the committed offsets of reader groups, and the reads waiting for records.
 */
export class BucketStore {
  readonly #backend: StorageBackend;
  /** Per writer (producer id): the sequence number of its last stored batch. Writers send a bucket's batches in order. */
  readonly #lastBatch = new Map<string, number>();
  readonly #committed = new Map<string, number>();
  readonly #waiting = new Set<() => void>();
  #count: number | undefined;
  /** Appends run one at a time: a batch and its number are stored together. */
  #appending: Promise<unknown> = Promise.resolve();

  readonly epoch: string;
  /** Records appended here (new batches only) and records handed to readers, since this copy was made: for rates. */
  written = 0;
  readOut = 0;
  /** Handed over (or closing): appends that come after it are refused, so none lands where nobody will read it. */
  #sealed = false;

  seal(): void {
    this.#sealed = true;
  }

  /** Takes appends again (a hand-over that failed). */
  unseal(): void {
    this.#sealed = false;
  }

  constructor(backend: StorageBackend, epoch: string = crypto.randomUUID()) {
    this.#backend = backend;
    this.epoch = epoch;
  }

  /**
   * The bucket a persistent backend kept (its node restarted, or held it before), or undefined when it keeps none.
   */
  static async restore(backend: StorageBackend): Promise<BucketStore | undefined> {
    if (backend.persistent !== true || backend.loadMeta === undefined) return undefined;
    const meta = await backend.loadMeta();
    if (meta === undefined) return undefined;
    const bucket = new BucketStore(backend, meta.epoch);
    for (const [producer, seq] of meta.lastBatch) bucket.#lastBatch.set(producer, seq);
    for (const [group, offset] of meta.committed) bucket.#committed.set(group, offset);
    return bucket;
  }

  /**
   * A bucket taken over from its previous owner: its records (in their order: offsets stay valid), writers and groups.
   * A persistent backend that kept another copy of the bucket: a copy of the same lineage is replaced (the one handed
   * over is the owner's); one of another lineage (this node kept it while another node started the bucket afresh)
   * keeps its records, and the records handed over follow them — nothing either side acknowledged is dropped.
   */
  static async from(state: BucketState, backend: StorageBackend): Promise<BucketStore> {
    const kept = await BucketStore.restore(backend);
    if (kept !== undefined && kept.epoch !== state.epoch && (await kept.totalCount()) > 0) {
      for (const [producer, seq] of state.lastBatch) if (seq > (kept.#lastBatch.get(producer) ?? -1)) kept.#lastBatch.set(producer, seq);
      const count = await kept.totalCount();
      await backend.putBatch(state.records, kept.#meta());
      kept.#count = count + state.records.length;
      return kept;
    }
    const before = await backend.totalCount();
    if (before !== 0 || kept !== undefined) {
      if (backend.clear === undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `a bucket taken over needs an empty backend (this one holds ${before} records)`);
      await backend.clear();
    }
    const bucket = new BucketStore(backend, state.epoch);
    for (const [producer, seq] of state.lastBatch) bucket.#lastBatch.set(producer, seq);
    for (const [group, offset] of state.committed) bucket.#committed.set(group, offset);
    if (state.records.length > 0) await backend.putBatch(state.records, bucket.#meta());
    else await bucket.#saveMeta();
    bucket.#count = state.records.length;
    return bucket;
  }

  /**
   * A follower's copy of lineage `epoch`: what a persistent backend kept of it (the follower restarted), else empty
   * (a copy of another lineage is dropped).
   */
  static async replica(backend: StorageBackend, epoch: string): Promise<BucketStore> {
    const kept = await BucketStore.restore(backend);
    if (kept !== undefined && kept.epoch === epoch) return kept;
    if (kept !== undefined || (await backend.totalCount()) > 0) await backend.clear?.();
    return new BucketStore(backend, epoch);
  }

  /** What a persistent backend stores with the records. */
  #meta(): BucketMeta {
    return { epoch: this.epoch, lastBatch: [...this.#lastBatch], committed: [...this.#committed] };
  }

  #persistent(): boolean {
    return this.#backend.persistent === true;
  }

  async #saveMeta(): Promise<void> {
    if (this.#persistent()) await this.#backend.saveMeta?.(this.#meta());
  }

  /** The bucket moved to another node: a persistent backend forgets it (a later owner here takes it from the holder). */
  async discard(): Promise<void> {
    for (const wake of [...this.#waiting]) wake();
    if (this.#persistent()) await this.#backend.clear?.();
    await this.#backend.close?.();
  }

  /** Everything the next owner needs, once the appends under way are done. */
  async export(): Promise<BucketState> {
    await this.#appending;
    const total = await this.totalCount();
    return {
      epoch: this.epoch,
      records: total > 0 ? await this.#backend.get(total, 0) : [],
      lastBatch: [...this.#lastBatch],
      committed: [...this.#committed],
    };
  }

  /** Stores a writer's batch `seq` unless it already did (a retry): whether it was new, and the bucket's count. */
  append(producer: string, seq: number, records: readonly QueueRecord[]): Promise<{ stored: boolean; totalCount: number; epoch: string } | "sealed"> {
    const appending = this.#appending.then(async () => {
      if (this.#sealed) return "sealed" as const;
      if (seq <= (this.#lastBatch.get(producer) ?? -1)) return { stored: false, totalCount: await this.totalCount(), epoch: this.epoch };
      const before = await this.totalCount();
      const previous = this.#lastBatch.get(producer);
      this.#lastBatch.set(producer, seq);
      try {
        await this.#backend.putBatch(records, this.#persistent() ? this.#meta() : undefined);
      } catch (error) {
        if (previous === undefined) this.#lastBatch.delete(producer);
        else this.#lastBatch.set(producer, previous);
        throw error;
      }
      this.#count = before + records.length;
      this.written += records.length;
      for (const wake of [...this.#waiting]) wake();
      return { stored: true, totalCount: this.#count, epoch: this.epoch };
    });
    this.#appending = appending.catch(() => {});
    return appending;
  }

  /** The records from `offset` on (what a follower lacks). */
  async recordsFrom(offset: number): Promise<QueueRecord[]> {
    await this.#appending;
    const total = await this.totalCount();
    return offset < total ? this.#backend.get(total - offset, offset) : [];
  }

  /** The writers' last batch numbers (they go to followers with the records). */
  lastBatches(): Array<[string, number]> {
    return [...this.#lastBatch];
  }

  /**
   * A follower's copy takes the owner's records that start at `fromOffset`: the part it lacks is appended. Returns
   * its count, or what it needs first (`need`: the offset to send from) when there is a gap.
   */
  sync(fromOffset: number, records: readonly QueueRecord[], lastBatch: ReadonlyArray<[string, number]>): Promise<{ count: number } | { need: number }> {
    const syncing = this.#appending.then(async () => {
      const count = await this.totalCount();
      if (fromOffset > count) return { need: count };
      const missing = records.slice(count - fromOffset);
      for (const [producer, seq] of lastBatch) if (seq > (this.#lastBatch.get(producer) ?? -1)) this.#lastBatch.set(producer, seq);
      if (missing.length > 0) {
        await this.#backend.putBatch(missing, this.#persistent() ? this.#meta() : undefined);
        this.#count = count + missing.length;
        this.written += missing.length;
      }
      return { count: this.#count ?? count };
    });
    this.#appending = syncing.catch(() => {});
    return syncing;
  }

  async totalCount(): Promise<number> {
    this.#count ??= await this.#backend.totalCount();
    return this.#count;
  }

  /** Up to `limit` records from `offset`; with `waitMs`, waits that long for one when there is none yet. */
  async read(offset: number, limit: number, waitMs: number): Promise<QueueRecord[]> {
    const records = await this.#read(offset, limit, waitMs);
    this.readOut += records.length;
    return records;
  }

  async #read(offset: number, limit: number, waitMs: number): Promise<QueueRecord[]> {
    const records = await this.#backend.get(limit, offset);
    if (records.length > 0 || waitMs <= 0) return records;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, waitMs);
      this.#waiting.add(wake);
      // A record that arrived between the read above and this wait would not wake it.
      void this.totalCount().then((count) => {
        if (count > offset) wake();
      });
    });
    return this.#backend.get(limit, offset);
  }

  async commit(group: string, offset: number): Promise<void> {
    this.#committed.set(group, Math.max(offset, this.#committed.get(group) ?? 0));
    await this.#saveMeta();
  }

  committed(group: string): number {
    return this.#committed.get(group) ?? 0;
  }

  async stats(): Promise<Record<string, unknown>> {
    return { ...(await this.#backend.stats()), totalCount: await this.totalCount(), epoch: this.epoch, groups: Object.fromEntries(this.#committed) };
  }

  /** Wakes every waiting read (the bucket is closing). */
  close(): Promise<void> | undefined {
    for (const wake of [...this.#waiting]) wake();
    return this.#backend.close?.();
  }
}
