/**
 * A seed's `/metrics`: the cluster in the Prometheus text format, with prom-client. Each scrape asks every alive
 * member's system actor for its metrics, queues and topics (in parallel, each within a short timeout), so one seed
 * shows the whole cluster — browser tabs included, which no Prometheus can scrape. Scrape one seed per cluster:
 * two seeds report the same series.
 */
import { Counter, Gauge, Registry, type Metric } from "prom-client";
import type * as pul from "../index.js";
import { collectReports, type NodeReport } from "./cluster-report.js";

/** How long a member may take to answer a scrape (a slower one is reported down for this scrape). */
const SCRAPE_TIMEOUT_MS = 2_000;

type Labels<T extends string> = Partial<Record<T, string | number>>;
type Sample = { metricName: string; labels: Record<string, string | number>; value: number };

/**
 * A histogram whose bucket counts were observed elsewhere (on each node, by its actors). prom-client's `Histogram`
 * only takes single observations, so this is a metric of the shape its `Registry` reads (`name`, `help`, `type`,
 * `aggregator`, `get()`), filled from the nodes' counts at each scrape.
 */
class ObservedHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  #values: Sample[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  reset(): void {
    this.#values = [];
  }

  /** One series: `counts[i]` observations up to `bounds[i]` (seconds), the last count above every bound. */
  set(labels: Record<string, string>, bounds: number[], counts: number[], sum: number): void {
    let cumulative = 0;
    bounds.forEach((le, i) => {
      cumulative += counts[i] ?? 0;
      this.#values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le }, value: cumulative });
    });
    cumulative += counts[bounds.length] ?? 0;
    this.#values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: "+Inf" }, value: cumulative });
    this.#values.push({ metricName: `${this.name}_sum`, labels, value: sum });
    this.#values.push({ metricName: `${this.name}_count`, labels, value: cumulative });
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#values };
  }
}

/** The metrics of one seed's HTTP server (a registry of its own: two seeds in one process do not clash). */
export class ClusterMetrics {
  readonly registry = new Registry();
  readonly #system: pul.ActorSystem;
  #scrape: Promise<string> | undefined;

  readonly #calls: Counter<"node" | "runtime" | "actor_class">;
  readonly #errors: Counter<"node" | "runtime" | "actor_class">;
  readonly #latency = new ObservedHistogram(
    "pulsing_actor_call_duration_seconds",
    "Call latency per actor class, from the method's start to its result (one call in 8 per actor is timed)",
  );
  readonly #members: Gauge<"status" | "runtime">;
  readonly #nodeUp: Gauge<"node" | "runtime">;
  readonly #actors: Gauge<"node" | "runtime">;
  readonly #mailbox: Gauge<"node" | "runtime">;
  readonly #queueBuckets: Gauge<"topic">;
  readonly #queueReplicas: Gauge<"topic">;
  readonly #queueRecords: Gauge<"topic">;
  readonly #queueWritten: Counter<"topic">;
  readonly #queueRead: Counter<"topic">;
  readonly #topicSubscribers: Gauge<"topic">;
  readonly #topicPublished: Counter<"topic">;
  readonly #topicReceived: Counter<"topic">;

  constructor(system: pul.ActorSystem) {
    this.#system = system;
    const registers = [this.registry];
    const node = ["node", "runtime"] as const;
    this.#calls = new Counter({ name: "pulsing_actor_calls_total", help: "Calls started per actor class and node", labelNames: [...node, "actor_class"], registers });
    this.#errors = new Counter({ name: "pulsing_actor_errors_total", help: "Calls failed per actor class and node", labelNames: [...node, "actor_class"], registers });
    this.registry.registerMetric(this.#latency as unknown as Metric);
    this.#members = new Gauge({ name: "pulsing_members", help: "Members by status and runtime, in this seed's view", labelNames: ["status", "runtime"], registers });
    this.#nodeUp = new Gauge({ name: "pulsing_node_up", help: "1 when the member answered this scrape, 0 when it did not", labelNames: node, registers });
    this.#actors = new Gauge({ name: "pulsing_node_actors", help: "Actors running on the node", labelNames: node, registers });
    this.#mailbox = new Gauge({ name: "pulsing_node_mailbox_depth", help: "Messages waiting in the node's mailboxes", labelNames: node, registers });
    this.#queueBuckets = new Gauge({ name: "pulsing_queue_buckets", help: "Buckets of the queue held by an owner", labelNames: ["topic"], registers });
    this.#queueReplicas = new Gauge({ name: "pulsing_queue_replica_buckets", help: "Follower copies of the queue's buckets", labelNames: ["topic"], registers });
    this.#queueRecords = new Gauge({ name: "pulsing_queue_records", help: "Records in the queue (its owners' copies)", labelNames: ["topic"], registers });
    this.#queueWritten = new Counter({
      name: "pulsing_queue_written_total",
      help: "Records appended to the queue's owner copies (per copy since it was made: a bucket that moves starts again)",
      labelNames: ["topic"],
      registers,
    });
    this.#queueRead = new Counter({ name: "pulsing_queue_read_total", help: "Records served from the queue's owner copies (readers' read-ahead included)", labelNames: ["topic"], registers });
    this.#topicSubscribers = new Gauge({ name: "pulsing_topic_subscribers", help: "Nodes subscribed to the topic", labelNames: ["topic"], registers });
    this.#topicPublished = new Counter({ name: "pulsing_topic_published_total", help: "Messages published to the topic, from every node", labelNames: ["topic"], registers });
    this.#topicReceived = new Counter({ name: "pulsing_topic_received_total", help: "Messages of the topic handed to subscribing nodes' readers", labelNames: ["topic"], registers });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The text of one scrape; scrapes that arrive while one is under way share it (the metrics are filled per scrape). */
  render(): Promise<string> {
    this.#scrape ??= this.#collect().finally(() => (this.#scrape = undefined));
    return this.#scrape;
  }

  async #collect(): Promise<string> {
    const members = this.#system.members();
    const asked = members.filter((m) => m.status === "alive");
    const reports = await collectReports(this.#system, asked, { metrics: true, streams: true }, SCRAPE_TIMEOUT_MS);
    for (const metric of [
      this.#calls, this.#errors, this.#latency, this.#members, this.#nodeUp, this.#actors, this.#mailbox, this.#queueBuckets,
      this.#queueReplicas, this.#queueRecords, this.#queueWritten, this.#queueRead, this.#topicSubscribers, this.#topicPublished, this.#topicReceived,
    ]) metric.reset();

    const byStatus = new Map<string, { status: string; runtime: string; count: number }>();
    for (const m of members) {
      const key = `${m.status}/${m.runtime}`;
      const entry = byStatus.get(key) ?? { status: m.status, runtime: m.runtime, count: 0 };
      entry.count++;
      byStatus.set(key, entry);
    }
    for (const { status, runtime, count } of byStatus.values()) this.#members.set({ status, runtime }, count);

    for (const report of reports) this.#node(report);
    this.#streams(reports);
    return this.registry.metrics();
  }

  #node(report: NodeReport): void {
    const labels = { node: report.member.nodeId, runtime: report.member.runtime };
    this.#nodeUp.set(labels, report.error === undefined ? 1 : 0);
    const m = report.metrics;
    if (m === undefined) return;
    this.#actors.set(labels, m.actors);
    this.#mailbox.set(labels, m.mailboxDepth);
    for (const c of m.classes ?? []) {
      const classLabels = { ...labels, actor_class: c.className };
      this.#calls.inc(classLabels, c.calls);
      this.#errors.inc(classLabels, c.errors);
      this.#latency.set(
        classLabels,
        c.latency.boundsMs.map((ms) => ms / 1000),
        c.latency.counts,
        c.latency.sumMs / 1000,
      );
    }
  }

  #streams(reports: NodeReport[]): void {
    const add = <T extends string>(metric: Counter<T> | Gauge<T>, labels: Labels<T>, value: number): void => {
      metric.inc(labels, value);
    };
    for (const report of reports) {
      for (const b of report.streams?.queues ?? []) {
        const labels = { topic: b.topic };
        if (b.role === "owner") {
          add(this.#queueBuckets, labels, 1);
          add(this.#queueRecords, labels, b.totalCount);
          add(this.#queueWritten, labels, b.written);
          add(this.#queueRead, labels, b.read);
        } else {
          add(this.#queueReplicas, labels, 1);
        }
      }
    }
    const subscribers = new Map<string, Set<string>>();
    for (const report of reports) {
      for (const t of report.streams?.topics ?? []) {
        const labels = { topic: t.topic };
        add(this.#topicPublished, labels, t.published);
        add(this.#topicReceived, labels, t.received);
        const set = subscribers.get(t.topic) ?? new Set<string>();
        for (const node of t.subscribers) set.add(node);
        subscribers.set(t.topic, set);
      }
    }
    for (const [topic, set] of subscribers) this.#topicSubscribers.set({ topic }, set.size);
  }
}
