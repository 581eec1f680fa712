/**
 * Seeing the cluster (issue 12): a seed's `/metrics` (Prometheus text, prom-client) and `pulsing inspect queues` /
 * `inspect topics`, on real nodes — a queue written and read, a topic published to, an actor class called, then the
 * numbers checked where an operator reads them.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { startSeed, type Seed } from "pulsing/node";
import { bucketOf } from "../src/streaming/bucket.js";
import { tcpAddr } from "./cluster/harness.js";
import { eventually } from "./helpers.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = fileURLToPath(new URL("../src/node/cli.ts", import.meta.url));

const QUEUE = "metrics/orders";
const TOPIC = "metrics/news";
const RECORDS = 10;
/** The records of one bucket are read (a reader reads ahead after a full `get`: a whole bucket read with a larger
 * limit makes what its owner serves exact). */
const READ_BUCKET = 0;
const READ = Array.from({ length: RECORDS }, (_, i) => `u${i}`).filter((id) => bucketOf(id, 4) === READ_BUCKET).length;
const PUBLISHED = 3;

class MetricsProbe {
  ok(): string {
    return "ok";
  }
  async fail(): Promise<never> {
    throw new Error("no");
  }
}

/** The value of the one sample line `name{labels}` (labels in the order prom-client prints them), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const want = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(",")}} `;
  const line = text.split("\n").find((l) => l.startsWith(want));
  return line === undefined ? undefined : Number(line.slice(want.length));
}

/** Runs the `pulsing` CLI (the sources, as `npm run pulsing` does) and resolves with its stdout. */
function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=pulsing-source", "--import", "tsx", CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`pulsing ${args.join(" ")} exited with ${code}: ${err}${out}`));
    });
  });
}

describe("seeing queues, topics and actors: /metrics and pulsing inspect", () => {
  const root = mkdtempSync(join(tmpdir(), "pulsing-metrics-"));
  let a: Seed;
  let b: Seed;
  let reader: pul.TopicReader | undefined;

  before(async () => {
    // Two seeds with HTTP servers in one process: each has its own registry (prom-client's global one would clash).
    a = await startSeed({ addr: "127.0.0.1:0", dashboard: { root, port: 0, host: "127.0.0.1" } });
    b = await startSeed({ addr: "127.0.0.1:0", seeds: [tcpAddr(a.system)], dashboard: { root, port: 0, host: "127.0.0.1" } });
    await eventually(() => {
      for (const s of [a, b]) assert.equal(s.system.members().filter((m) => m.status === "alive").length, 2, "both seeds see both alive");
    }, 15_000, 50);

    // A queue over both nodes: written from b, partly read from a.
    const writer = await b.system.queue.write(QUEUE, { bucketColumn: "id", numBuckets: 4 });
    for (let i = 0; i < RECORDS; i++) await writer.put({ id: `u${i}`, n: i });
    await writer.flush();
    assert.ok(READ > 0 && READ < RECORDS, `bucket ${READ_BUCKET} holds some of the records, not all (${READ})`);
    const queueReader = await a.system.queue.read(QUEUE, { group: "metrics", bucketId: READ_BUCKET, numBuckets: 4 });
    let got = 0;
    while (got < READ) got += (await queueReader.get({ limit: RECORDS, wait: true, timeout: 2_000 })).length;

    // A topic subscribed on a, published to from b.
    reader = await a.system.topic.read(TOPIC);
    reader.onMessage(() => {});
    await reader.start();
    const topicWriter = await b.system.topic.write(TOPIC);
    await eventually(() => assert.equal(topicWriter.subscribers().length, 1, "b sees a's subscription"), 10_000, 50);
    for (let i = 0; i < PUBLISHED; i++) {
      const result = await topicWriter.publish({ i }, { mode: "wait_all_acks" });
      assert.equal(result.success, true, "published and acknowledged");
    }

    // An actor class on b, called from a: 5 calls, 2 of them failing.
    await b.system.spawn(MetricsProbe, { name: "metrics/probe" });
    const probe = (await a.system.resolve("metrics/probe", { timeout: 5_000 })).asType(MetricsProbe);
    for (let i = 0; i < 3; i++) assert.equal(await probe.ok(), "ok");
    for (let i = 0; i < 2; i++) await assert.rejects(probe.fail());
  });

  after(async () => {
    await reader?.stop();
    await b?.stop();
    await a?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("a seed's /metrics shows the cluster's actors, members, queues and topics in the Prometheus text format", async () => {
    const response = await fetch(new URL("/metrics", a.url));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await response.text();

    const node = { node: b.system.nodeId, runtime: "node" };
    const probe = { ...node, actor_class: "MetricsProbe" };
    assert.equal(sample(text, "pulsing_actor_calls_total", probe), 5, "5 calls of MetricsProbe on b");
    assert.equal(sample(text, "pulsing_actor_errors_total", probe), 2, "2 of them failed");
    // One call in 8 per actor is timed, its first included: of 5 calls, 1.
    assert.equal(sample(text, "pulsing_actor_call_duration_seconds_count", probe), 1, "the first call was timed");
    assert.equal(sample(text, "pulsing_actor_call_duration_seconds_bucket", { ...probe, le: "+Inf" }), 1, "+Inf bucket = count");
    assert.ok((sample(text, "pulsing_actor_call_duration_seconds_sum", probe) ?? -1) >= 0, "a latency sum");
    assert.match(text, /# TYPE pulsing_actor_call_duration_seconds histogram/);
    assert.match(text, /# TYPE pulsing_actor_calls_total counter/);

    assert.equal(sample(text, "pulsing_members", { status: "alive", runtime: "node" }), 2, "two alive Node members");
    assert.equal(sample(text, "pulsing_node_up", node), 1, "b answered");

    const queue = { topic: QUEUE };
    assert.equal(sample(text, "pulsing_queue_records", queue), RECORDS, "the queue holds what was written");
    assert.equal(sample(text, "pulsing_queue_buckets", queue), 4, "its 4 buckets, each with one owner");
    assert.equal(sample(text, "pulsing_queue_written_total", queue), RECORDS, "records written");
    assert.equal(sample(text, "pulsing_queue_read_total", queue), READ, "records read");

    const topic = { topic: TOPIC };
    assert.equal(sample(text, "pulsing_topic_subscribers", topic), 1, "a subscribes");
    assert.equal(sample(text, "pulsing_topic_published_total", topic), PUBLISHED, "published from b");
    assert.equal(sample(text, "pulsing_topic_received_total", topic), PUBLISHED, "handed to a's readers");

    // The other seed serves the same cluster from its own registry.
    const fromB = await (await fetch(new URL("/metrics", b.url))).text();
    assert.equal(sample(fromB, "pulsing_queue_records", queue), RECORDS, "b's /metrics too");
  });

  it("any node gets another node's queue buckets and topics from its system actor", async () => {
    const fromA = await (await pul.getSystemActor(a.system, b.system.nodeId)).getQueuesAndTopics();
    const own = await (await pul.getSystemActor(a.system)).getQueuesAndTopics();
    assert.equal(fromA.nodeId, b.system.nodeId);
    const buckets = [...fromA.queues, ...own.queues].filter((q) => q.topic === QUEUE && q.role === "owner");
    assert.deepEqual(buckets.map((q) => q.bucketId).sort(), [0, 1, 2, 3], "the two nodes own the 4 buckets between them");
    assert.equal(buckets.reduce((n, q) => n + q.totalCount, 0), RECORDS);
    const published = fromA.topics.find((t) => t.topic === TOPIC);
    assert.deepEqual([published?.published, published?.subscribers], [PUBLISHED, [a.system.nodeId]], "b published, a subscribes");
    assert.equal(own.topics.find((t) => t.topic === TOPIC)?.readers, 1, "a's reader");
    const metrics = await (await pul.getSystemActor(a.system, b.system.nodeId)).getMetrics();
    const probe = metrics.classes.find((c) => c.className === "MetricsProbe");
    assert.deepEqual([probe?.calls, probe?.errors, probe?.latency.count], [5, 2, 1], "calls, errors and timed calls of the class");
  });

  it("pulsing inspect queues prints every bucket with its owner and count, as text and as JSON", async () => {
    const seeds = tcpAddr(a.system);
    const report = JSON.parse(await cli(["inspect", "queues", "--seeds", seeds, "--json", "--interval", "300"])) as {
      intervalMs: number;
      queues: Array<{ topic: string; count: number; buckets: Array<{ bucketId: number; owner: string; replicas: string[]; count: number; written: number; writeRate?: number; readRate?: number }> }>;
    };
    assert.equal(report.intervalMs, 300);
    const queue = report.queues.find((q) => q.topic === QUEUE);
    assert.ok(queue !== undefined, `the queue is listed: ${JSON.stringify(report)}`);
    assert.equal(queue.count, RECORDS, "its records");
    assert.deepEqual(queue.buckets.map((bucket) => bucket.bucketId), [0, 1, 2, 3], "its buckets");
    const nodes = [a.system.nodeId, b.system.nodeId];
    for (const bucket of queue.buckets) {
      assert.ok(nodes.includes(bucket.owner), `bucket ${bucket.bucketId} is owned by a seed: ${bucket.owner}`);
      assert.deepEqual(bucket.replicas, [], "no replication");
      // Nothing written or read between the two samples.
      assert.equal(bucket.writeRate, 0, `bucket ${bucket.bucketId}: no writes during the interval`);
      assert.equal(bucket.readRate, 0, `bucket ${bucket.bucketId}: no reads during the interval`);
    }
    assert.equal(queue.buckets.reduce((n, bucket) => n + bucket.written, 0), RECORDS, "written counters add up");

    const text = await cli(["inspect", "queues", "--seeds", seeds, "--interval", "100"]);
    assert.match(text, new RegExp(`queue ${QUEUE}  buckets=4 records=${RECORDS}`));
    assert.match(text, /bucket\s+owner\s+replicas\s+records\s+write\/s\s+read\/s/);
  });

  it("pulsing inspect topics prints subscribers and the publish rate, as text and as JSON", async () => {
    const seeds = tcpAddr(a.system);
    // Publishes during the sampling interval make a rate.
    const writer = await b.system.topic.write(TOPIC);
    let publishing = true;
    const publishes = (async () => {
      while (publishing) {
        await writer.publish("tick", { mode: "wait_all_acks" });
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    let report: { topics: Array<{ topic: string; subscribers: string[]; published: number; received: number; publishRate?: number }> };
    try {
      report = JSON.parse(await cli(["inspect", "topics", "--seeds", seeds, "--json", "--interval", "1000"])) as typeof report;
    } finally {
      publishing = false;
      await publishes;
    }
    const topic = report.topics.find((t) => t.topic === TOPIC);
    assert.ok(topic !== undefined, `the topic is listed: ${JSON.stringify(report)}`);
    assert.deepEqual(topic.subscribers, [a.system.nodeId], "a subscribes");
    assert.ok(topic.published > PUBLISHED, `published counts the ticks: ${topic.published}`);
    assert.ok((topic.publishRate ?? 0) > 1, `a publish rate from two samples: ${topic.publishRate}`);

    const text = await cli(["inspect", "topics", "--seeds", seeds, "--interval", "100"]);
    assert.match(text, new RegExp(`topic ${TOPIC}  subscribers=1 published=\\d+ publish/s=[\\d.]+`));
    assert.match(text, new RegExp(`subscriber ${a.system.nodeId}`));
  });
});
