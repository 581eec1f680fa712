import type { QueueRecord, StorageBackend } from "./backend.js";

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

  constructor(backend: StorageBackend) {
    this.#backend = backend;
  }

  /** Stores a writer's batch `seq` unless it already did (a retry): whether it was new, and the bucket's count. */
  append(producer: string, seq: number, records: readonly QueueRecord[]): Promise<{ stored: boolean; totalCount: number }> {
    const appending = this.#appending.then(async () => {
      if (seq <= (this.#lastBatch.get(producer) ?? -1)) return { stored: false, totalCount: await this.totalCount() };
      const before = await this.totalCount();
      await this.#backend.putBatch(records);
      this.#lastBatch.set(producer, seq);
      this.#count = before + records.length;
      for (const wake of [...this.#waiting]) wake();
      return { stored: true, totalCount: this.#count };
    });
    this.#appending = appending.catch(() => {});
    return appending;
  }

  async totalCount(): Promise<number> {
    this.#count ??= await this.#backend.totalCount();
    return this.#count;
  }

  /** Up to `limit` records from `offset`; with `waitMs`, waits that long for one when there is none yet. */
  async read(offset: number, limit: number, waitMs: number): Promise<QueueRecord[]> {
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
    });
    return this.#backend.get(limit, offset);
  }

  commit(group: string, offset: number): void {
    this.#committed.set(group, Math.max(offset, this.#committed.get(group) ?? 0));
  }

  committed(group: string): number {
    return this.#committed.get(group) ?? 0;
  }

  async stats(): Promise<Record<string, unknown>> {
    return { ...(await this.#backend.stats()), totalCount: await this.totalCount(), groups: Object.fromEntries(this.#committed) };
  }

  /** Wakes every waiting read (the bucket is closing). */
  close(): Promise<void> | undefined {
    for (const wake of [...this.#waiting]) wake();
    return this.#backend.close?.();
  }
}
