import * as pul from "pulsing";
import type { App } from "./app.js";
import { orderMembers } from "./util.js";

/** What a node's system actor answers to `getQueuesAndTopics()`. */
export type QueuesAndTopics = Awaited<ReturnType<pul.SystemActor["getQueuesAndTopics"]>>;
type Bucket = QueuesAndTopics["queues"][number];

const TIMEOUT_MS = 1_000;
/** At most this many nodes are asked (this one and the seeds first). */
const MAX_POLLED = 12;

export interface BucketRow {
  bucketId: number;
  owner: string;
  replicas: string[];
  count: number;
  /** Records per second, from the owner's last two answers (undefined until there are two). */
  writeRate?: number;
  readRate?: number;
}

export interface QueueRow {
  topic: string;
  count: number;
  buckets: BucketRow[];
}

export interface TopicRow {
  topic: string;
  subscribers: string[];
  published: number;
  /** Messages per second: each node's counter's difference over its last two answers, summed over the nodes. */
  publishRate?: number;
  receiveRate?: number;
}

interface NodeSamples {
  last: QueuesAndTopics | undefined;
  before: QueuesAndTopics | undefined;
  pending: boolean;
}

/**
 * Asks members' system actors for their queues and topics (`getQueuesAndTopics()`) every round, and keeps each
 * node's last two answers: a node knows only the bucket copies it holds and its own topic counters, so the views
 * below merge the nodes' answers, and rates are counters' differences over the node's own uptime.
 *
 * Which nodes: this tab, the seeds, the nodes this tab is connected to, and the Node/Deno members (the only ones
 * that own buckets of a cluster queue); not other tabs it has no connection to (see the rates panel: polling
 * every tab would connect every dashboard to every tab).
 */
export class QueuesTopicsPoller {
  readonly #app: App;
  readonly #nodes = new Map<string, NodeSamples>();
  /** Members not asked this round. */
  unpolled = 0;
  /** Nodes that did not answer the last round, with the error. */
  readonly errors = new Map<string, string>();

  constructor(app: App) {
    this.#app = app;
  }

  async poll(): Promise<void> {
    const { system, selfId, seedIds } = this.#app;
    const connected = new Set(system.connections().map((c) => c.nodeId));
    const alive = orderMembers(system.members(), selfId, seedIds).filter((m) => m.status === "alive");
    const asked = alive
      .filter((m) => m.nodeId === selfId || seedIds.has(m.nodeId) || connected.has(m.nodeId) || m.runtime !== "browser")
      .slice(0, MAX_POLLED);
    this.unpolled = alive.length - asked.length;
    const live = new Set(asked.map((m) => m.nodeId));
    for (const id of this.#nodes.keys()) if (!live.has(id)) this.#nodes.delete(id);
    for (const id of this.errors.keys()) if (!live.has(id)) this.errors.delete(id);
    await Promise.all(
      asked.map(async (m) => {
        let node = this.#nodes.get(m.nodeId);
        if (node === undefined) this.#nodes.set(m.nodeId, (node = { last: undefined, before: undefined, pending: false }));
        if (node.pending) return;
        node.pending = true;
        try {
          const sys = (await pul.getSystemActor(system, m.nodeId)).withOptions({ timeout: TIMEOUT_MS });
          const answer = await sys.getQueuesAndTopics();
          node.before = node.last;
          node.last = answer;
          this.errors.delete(m.nodeId);
        } catch (error) {
          node.before = node.last = undefined;
          this.errors.set(m.nodeId, (error as Error).message);
        } finally {
          node.pending = false;
        }
      }),
    );
  }

  /** Every queue's buckets: the owner's copy (the fuller one while a bucket moves), the replicas' nodes. */
  queues(): QueueRow[] {
    const owners = new Map<string, { node: string; bucket: Bucket; samples: NodeSamples }>();
    const replicas = new Map<string, string[]>();
    for (const [node, samples] of this.#nodes) {
      for (const bucket of samples.last?.queues ?? []) {
        const key = `${bucket.topic}\u0000${bucket.bucketId}`;
        if (bucket.role === "replica") replicas.set(key, [...(replicas.get(key) ?? []), node]);
        else if ((owners.get(key)?.bucket.totalCount ?? -1) < bucket.totalCount) owners.set(key, { node, bucket, samples });
      }
    }
    const queues = new Map<string, BucketRow[]>();
    for (const [key, { node, bucket, samples }] of owners) {
      const row: BucketRow = { bucketId: bucket.bucketId, owner: node, replicas: (replicas.get(key) ?? []).sort(), count: bucket.totalCount };
      const prev = samples.before?.queues.find((b) => b.role === "owner" && b.topic === bucket.topic && b.bucketId === bucket.bucketId);
      const ms = samples.last!.uptimeMs - (samples.before?.uptimeMs ?? 0);
      if (prev !== undefined && ms > 0 && bucket.written >= prev.written && bucket.read >= prev.read) {
        row.writeRate = ((bucket.written - prev.written) * 1000) / ms;
        row.readRate = ((bucket.read - prev.read) * 1000) / ms;
      }
      queues.set(bucket.topic, [...(queues.get(bucket.topic) ?? []), row]);
    }
    return [...queues.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([topic, buckets]) => ({ topic, buckets: buckets.sort((a, b) => a.bucketId - b.bucketId), count: buckets.reduce((n, b) => n + b.count, 0) }));
  }

  /** Every topic a polled node subscribes to or published to: subscribers (the union of the nodes' views) and rates. */
  topics(): TopicRow[] {
    const topics = new Map<string, { subscribers: Set<string>; published: number; publishRate?: number; receiveRate?: number }>();
    for (const samples of this.#nodes.values()) {
      const last = samples.last;
      if (last === undefined) continue;
      const ms = last.uptimeMs - (samples.before?.uptimeMs ?? 0);
      for (const t of last.topics) {
        let row = topics.get(t.topic);
        if (row === undefined) topics.set(t.topic, (row = { subscribers: new Set(), published: 0 }));
        for (const node of t.subscribers) row.subscribers.add(node);
        row.published += t.published;
        const prev = samples.before?.topics.find((p) => p.topic === t.topic);
        if (samples.before !== undefined && ms > 0) {
          row.publishRate = (row.publishRate ?? 0) + (Math.max(0, t.published - (prev?.published ?? 0)) * 1000) / ms;
          row.receiveRate = (row.receiveRate ?? 0) + (Math.max(0, t.received - (prev?.received ?? 0)) * 1000) / ms;
        }
      }
    }
    return [...topics.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([topic, row]) => ({ topic, subscribers: [...row.subscribers].sort(), published: row.published, ...(row.publishRate !== undefined ? { publishRate: row.publishRate } : {}), ...(row.receiveRate !== undefined ? { receiveRate: row.receiveRate } : {}) }));
  }
}
