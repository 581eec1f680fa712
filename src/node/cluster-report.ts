/**
 * What the members of a cluster report of themselves, asked through their system actors: the metrics, the queues
 * and the topics of every node, for `pulsing inspect` and a seed's `/metrics`. Queue buckets and topics are merged
 * into one view of the cluster (each node knows only the copies it holds), with rates from two samples.
 */
import * as pul from "../index.js";
import type { QueuesAndTopics } from "../actor/system-actor.js";
import type { Member } from "../cluster/membership.js";
import type { BucketInventory } from "../streaming/queue-storage.js";

/** One member's answers (`error` when it did not answer in time). */
export interface NodeReport {
  member: Member;
  metrics?: pul.NodeMetrics;
  streams?: QueuesAndTopics;
  error?: string;
}

/** Asks each member's system actor for what `want` names, all in parallel, each within `timeoutMs`. */
export async function collectReports(
  system: pul.ActorSystem,
  members: Member[],
  want: { metrics?: boolean; streams?: boolean },
  timeoutMs: number,
): Promise<NodeReport[]> {
  return Promise.all(
    members.map(async (member): Promise<NodeReport> => {
      try {
        const sys = (await pul.getSystemActor(system, member.nodeId)).withOptions({ timeout: timeoutMs });
        const [metrics, streams] = await Promise.all([
          want.metrics === true ? sys.getMetrics() : undefined,
          want.streams === true ? sys.getQueuesAndTopics() : undefined,
        ]);
        return { member, ...(metrics !== undefined ? { metrics } : {}), ...(streams !== undefined ? { streams } : {}) };
      } catch (error) {
        return { member, error: (error as Error).message };
      }
    }),
  );
}

/** One bucket of a queue in the cluster's view. */
export interface BucketView {
  bucketId: number;
  /** The node serving it (while a bucket moves, two may say so: the one with more records is shown). */
  owner: string;
  /** Nodes holding a follower copy. */
  replicas: string[];
  /** Records in the owner's copy. */
  count: number;
  /** The owner's counters: records appended to and read from its copy since it was made there. */
  written: number;
  read: number;
  /** Records per second over the sampling interval; undefined when the owner changed in between (or one sample). */
  writeRate?: number;
  readRate?: number;
  backend: string;
  replication: number;
}

export interface QueueView {
  topic: string;
  buckets: BucketView[];
  /** Records in all its buckets. */
  count: number;
}

export interface TopicView {
  topic: string;
  /** Subscribed nodes (the union of what the answering nodes see in the registry). */
  subscribers: string[];
  /** Messages published from, and handed to readers on, every answering node. */
  published: number;
  received: number;
  /** Per second over the sampling interval (undefined with one sample). */
  publishRate?: number;
  receiveRate?: number;
}

/** Every queue's buckets from the nodes' inventories; rates against `before` (an earlier sample) when given. */
export function queueViews(reports: NodeReport[], before?: NodeReport[]): QueueView[] {
  const earlier = before !== undefined ? ownedBuckets(before) : undefined;
  const owned = ownedBuckets(reports);
  const replicas = new Map<string, string[]>();
  for (const { node, bucket } of copies(reports)) {
    if (bucket.role !== "replica") continue;
    const key = bucketKey(bucket);
    replicas.set(key, [...(replicas.get(key) ?? []), node]);
  }
  const queues = new Map<string, BucketView[]>();
  for (const [key, { node, bucket, uptimeMs }] of owned) {
    const view: BucketView = {
      bucketId: bucket.bucketId,
      owner: node,
      replicas: (replicas.get(key) ?? []).sort(),
      count: bucket.totalCount,
      written: bucket.written,
      read: bucket.read,
      backend: bucket.backend,
      replication: bucket.replication,
    };
    const prev = earlier?.get(key);
    // Counters of one copy only: a bucket that moved has a fresh copy (and counters) on its new owner.
    if (prev !== undefined && prev.node === node && uptimeMs > prev.uptimeMs && bucket.written >= prev.bucket.written && bucket.read >= prev.bucket.read) {
      const seconds = (uptimeMs - prev.uptimeMs) / 1000;
      view.writeRate = (bucket.written - prev.bucket.written) / seconds;
      view.readRate = (bucket.read - prev.bucket.read) / seconds;
    }
    queues.set(bucket.topic, [...(queues.get(bucket.topic) ?? []), view]);
  }
  return [...queues.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([topic, buckets]) => ({ topic, buckets: buckets.sort((a, b) => a.bucketId - b.bucketId), count: buckets.reduce((n, b) => n + b.count, 0) }));
}

/** Every topic some node subscribes to or published to; rates against `before` (seconds between the samples) when given. */
export function topicViews(reports: NodeReport[], before?: { reports: NodeReport[]; seconds: number }): TopicView[] {
  const totals = topicTotals(reports);
  const earlier = before !== undefined ? topicTotals(before.reports) : undefined;
  return [...totals.values()]
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0))
    .map((t) => {
      const prev = earlier?.get(t.topic);
      const view: TopicView = { topic: t.topic, subscribers: [...t.subscribers].sort(), published: t.published, received: t.received };
      if (before !== undefined && before.seconds > 0) {
        view.publishRate = Math.max(0, t.published - (prev?.published ?? 0)) / before.seconds;
        view.receiveRate = Math.max(0, t.received - (prev?.received ?? 0)) / before.seconds;
      }
      return view;
    });
}

function topicTotals(reports: NodeReport[]): Map<string, { topic: string; subscribers: Set<string>; published: number; received: number }> {
  const totals = new Map<string, { topic: string; subscribers: Set<string>; published: number; received: number }>();
  for (const report of reports) {
    for (const t of report.streams?.topics ?? []) {
      let entry = totals.get(t.topic);
      if (entry === undefined) totals.set(t.topic, (entry = { topic: t.topic, subscribers: new Set(), published: 0, received: 0 }));
      for (const node of t.subscribers) entry.subscribers.add(node);
      entry.published += t.published;
      entry.received += t.received;
    }
  }
  return totals;
}

const bucketKey = (b: BucketInventory): string => `${b.bucketId}/${b.topic}`;

function* copies(reports: NodeReport[]): Iterable<{ node: string; uptimeMs: number; bucket: BucketInventory }> {
  for (const report of reports) {
    if (report.streams === undefined) continue;
    for (const bucket of report.streams.queues) yield { node: report.member.nodeId, uptimeMs: report.streams.uptimeMs, bucket };
  }
}

/** The owner copy of each bucket (while a bucket moves two nodes may hold one: the fuller copy wins). */
function ownedBuckets(reports: NodeReport[]): Map<string, { node: string; uptimeMs: number; bucket: BucketInventory }> {
  const owned = new Map<string, { node: string; uptimeMs: number; bucket: BucketInventory }>();
  for (const copy of copies(reports)) {
    if (copy.bucket.role !== "owner") continue;
    const key = bucketKey(copy.bucket);
    const held = owned.get(key);
    if (held === undefined || copy.bucket.totalCount > held.bucket.totalCount) owned.set(key, copy);
  }
  return owned;
}
