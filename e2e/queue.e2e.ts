/**
 * Queues and topics (issue 12) with browser tabs in the cluster: a tab writes a cluster queue whose buckets live on
 * the Node members only (tabs never own buckets), Node reads every record back, and the reverse (a tab waiting with
 * `get({ wait: true })` and reading with `for await`); topic messages go Node → tab in each publish mode and tab → Node
 * and tab → tab, each message to each subscriber once; a standalone tab (no seeds) keeps its queues itself; and a
 * standalone tab's `level` queue (IndexedDB) survives a reload of the page.
 *
 * The cluster: the fixtures' Node seed and two tabs, plus a second Node member in this process (so that buckets are
 * spread over two full members and a topic has a publisher that is not a subscriber). Tests go through the public
 * API only (`pul.queue`, `pul.topic` in the tabs; `system.queue`, `system.topic` in Node) and poll with deadlines.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import * as pul from "pulsing";
import { serveStatic } from "../src/node/static-server.js";
import { tcpAddr } from "../test/cluster/harness.js";
import { eventually } from "../test/helpers.js";
import { test as cluster, type Tab } from "./fixtures.js";
import { openTab } from "./harness.js";

const DASHBOARD = fileURLToPath(new URL("../dist/demo", import.meta.url));

type PageGlobals = { pul: typeof pul; system: pul.ActorSystem } & Record<string, unknown>;

const test = cluster.extend<{}, { node2: pul.ActorSystem }>({
  /** A second Node member of the seed's cluster, in this process. */
  node2: [
    async ({ seed }, use) => {
      const system = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed.system)] });
      await use(system);
      await system.shutdown();
    },
    { scope: "worker", timeout: 30_000 },
  ],
});

type Rec = { id: string; n: number; from: string };

const byN = (records: readonly unknown[]): number[] => (records as Rec[]).map((r) => r.n).sort((a, b) => a - b);
const range = (count: number): number[] => Array.from({ length: count }, (_, i) => i);

/** The dashboard served with no seeds: its tab starts a standalone system (`pul.init({ seeds: [] })`). */
async function standaloneTab(browser: Browser): Promise<{ tab: Tab; close(): Promise<void> }> {
  const served = await serveStatic({ root: DASHBOARD, host: "127.0.0.1", port: 0, json: { "/config.json": () => ({ seeds: [], protected: false }) } });
  const closeServer = () => new Promise<void>((resolve) => served.server.close(() => resolve()));
  const tab = await openTab(browser, served.url).catch(async (error: unknown) => {
    await closeServer();
    throw error;
  });
  return {
    tab,
    close: async () => {
      await tab.page.context().close();
      await closeServer();
    },
  };
}

/** Reads every record of a reader until a get returns none. */
async function drain(reader: pul.QueueReader): Promise<Rec[]> {
  const all: Rec[] = [];
  for (let batch = await reader.get({ limit: 17 }); batch.length > 0; batch = await reader.get({ limit: 17 })) all.push(...(batch as Rec[]));
  return all;
}

test.use({ tabCount: 2 });

test.describe("queues and topics with browser tabs", () => {
  test.describe.configure({ mode: "serial" });
  test("the cluster: every tab and Node member sees the two Node members and the two tabs alive", async ({ seed, tabs, node2 }) => {
    const everyone = [seed.system.nodeId, node2.nodeId, ...tabs.map((t) => t.nodeId)].sort();
    await eventually(async () => {
      for (const system of [seed.system, node2]) {
        assert.deepEqual(system.members().filter((m) => m.status === "alive").map((m) => m.nodeId).sort(), everyone, `the view of ${system.nodeId}`);
      }
      for (const tab of tabs) {
        const seen = await tab.page.evaluate(() =>
          (globalThis as unknown as PageGlobals).system.members().filter((m) => m.status === "alive").map((m) => m.nodeId),
        );
        assert.deepEqual(seen.sort(), everyone, `the view of tab ${tab.nodeId}`);
      }
    }, 20_000, 100);
  });

  test("a tab writes a cluster queue: its buckets are on the Node members, and Node reads every record back", async ({ seed, tabs, node2 }) => {
    const COUNT = 120;
    const stats = await tabs[0]!.page.evaluate(async (count) => {
      const { pul, system } = globalThis as unknown as PageGlobals;
      const writer = await pul.queue.write("e2e/tab-to-node", { numBuckets: 8, batchSize: 7 });
      const records = Array.from({ length: count }, (_, n) => ({ id: `k${n}`, n, from: system.nodeId }));
      await writer.put(records[0]!); // one record, then arrays
      await writer.put(records.slice(1, 50));
      await writer.put(records.slice(50));
      await writer.flush();
      return writer.stats();
    }, COUNT);
    const full = new Set([seed.system.nodeId, node2.nodeId]);
    assert.equal(stats.pending, 0);
    assert.equal(stats.buckets.length, 8);
    for (const bucket of stats.buckets) {
      assert.ok(bucket.owner !== undefined && full.has(bucket.owner), `bucket ${bucket.bucketId} is owned by ${bucket.owner}, not a Node member (tabs: ${tabs.map((t) => t.nodeId).join(", ")})`);
      assert.equal(bucket.error, undefined, `bucket ${bucket.bucketId}: ${bucket.error}`);
    }
    assert.equal(stats.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), COUNT, JSON.stringify(stats.buckets));

    // Every record, read from Node: all buckets from the seed, and split by rank over the two Node members.
    const all = await drain(await seed.system.queue.read("e2e/tab-to-node", { numBuckets: 8 }));
    assert.deepEqual(byN(all), range(COUNT));
    assert.ok(all.every((r) => r.id === `k${r.n}` && r.from === tabs[0]!.nodeId), "a record came back changed");
    const rank0 = await drain(await seed.system.queue.read("e2e/tab-to-node", { numBuckets: 8, rank: 0, worldSize: 2 }));
    const rank1 = await drain(await node2.queue.read("e2e/tab-to-node", { numBuckets: 8, rank: 1, worldSize: 2 }));
    assert.deepEqual(byN([...rank0, ...rank1]), range(COUNT));
    // The Node members agree on where the buckets are.
    const fromNode = await (await node2.queue.write("e2e/tab-to-node", { numBuckets: 8 })).stats();
    assert.deepEqual(fromNode.buckets.map((b) => [b.owner, b.totalCount]), stats.buckets.map((b) => [b.owner, b.totalCount]));
  });

  test("Node writes a cluster queue; a tab waits for the first record (get with wait), another reads all with for await", async ({ seed, tabs, node2 }) => {
    const TOPIC = "e2e/node-to-tab";
    // Tab A waits on an empty queue: its get holds until a record arrives. A second waiting get (another reader),
    // started after it, must run to its own timeout with nothing: it shows that a get waits, and by the time it
    // returns the first is parked on the buckets' owners, so the write below wakes a waiting read.
    const SHORT_WAIT_MS = 500;
    const probe = await tabs[0]!.page.evaluate(async ({ topic, shortWait }) => {
      const g = globalThis as unknown as PageGlobals;
      const reader = await g.pul.queue.read(topic, { numBuckets: 4 });
      g.waited = reader.get({ wait: true, timeout: 20_000, limit: 1_000 }).then((records) => ({ records, at: Date.now() }));
      g.waitReader = reader;
      const other = await g.pul.queue.read(topic, { numBuckets: 4 });
      const started = Date.now();
      const nothing = await other.get({ wait: true, timeout: shortWait });
      return { nothing, ms: Date.now() - started };
    }, { topic: TOPIC, shortWait: SHORT_WAIT_MS });
    assert.deepEqual(probe.nothing, []);
    assert.ok(probe.ms >= SHORT_WAIT_MS - 50, `a get with wait: true, timeout: ${SHORT_WAIT_MS} on an empty queue returned after ${probe.ms} ms`);
    const writer = await node2.queue.write(TOPIC, { numBuckets: 4, batchSize: 10 });
    const writtenAt = Date.now();
    await writer.put({ id: "first", n: 0, from: node2.nodeId });
    await writer.flush();
    const waited = await tabs[0]!.page.evaluate(() => (globalThis as unknown as PageGlobals).waited as Promise<{ records: Rec[]; at: number }>);
    assert.deepEqual(waited.records, [{ id: "first", n: 0, from: node2.nodeId }]);
    assert.ok(waited.at - writtenAt < 5_000, `the waiting get returned ${waited.at - writtenAt} ms after the write (its timeout was 20 s)`);

    // Tab B reads with for await while Node keeps writing (from both Node members).
    const COUNT = 80;
    const reading = tabs[1]!.page.evaluate(async ({ topic, count }) => {
      const { pul } = globalThis as unknown as PageGlobals;
      const reader = await pul.queue.read(topic, { numBuckets: 4 });
      const got: unknown[] = [];
      const deadline = Date.now() + 30_000;
      for await (const record of reader) {
        got.push(record);
        if (got.length >= count || Date.now() > deadline) break;
      }
      return got;
    }, { topic: TOPIC, count: COUNT });
    const seedWriter = await seed.system.queue.write(TOPIC, { numBuckets: 4, batchSize: 10 });
    for (let n = 1; n < COUNT; n++) {
      const [w, from] = n % 2 === 0 ? [writer, node2] : [seedWriter, seed.system];
      await w.put({ id: `k${n}`, n, from: from.nodeId });
      if (n % 20 === 0) await Promise.all([writer.flush(), seedWriter.flush()]);
    }
    await Promise.all([writer.flush(), seedWriter.flush()]);
    const got = (await reading) as Rec[];
    assert.deepEqual(byN(got), range(COUNT));
    // Tab A's reader carries on after its first record: the rest, and nothing twice.
    const rest = await tabs[0]!.page.evaluate(async () => {
      const reader = (globalThis as unknown as PageGlobals).waitReader as pul.QueueReader;
      const out: unknown[] = [];
      for (let batch = await reader.get({ limit: 1_000 }); batch.length > 0; batch = await reader.get({ limit: 1_000 })) out.push(...batch);
      return out;
    });
    assert.deepEqual(byN(rest as Rec[]), range(COUNT).slice(1));
  });

  test("topics: Node publishes to tab and Node subscribers in every mode; a tab publishes to a Node and another tab", async ({ seed, tabs, node2 }) => {
    const TOPIC = "e2e/events";
    // Subscribers: tab A and the seed. Publishers: node2 (a Node member with no reader) and tab B.
    await tabs[0]!.page.evaluate(async (topic) => {
      const g = globalThis as unknown as PageGlobals;
      const got: unknown[] = [];
      g.topicGot = got;
      const reader = await g.pul.topic.read(topic);
      reader.onMessage((message) => void got.push(message));
      await reader.start();
    }, TOPIC);
    // A tab stays a light member while it reads a topic: on no gossip topic (writers send to it directly).
    const tabTopics = await tabs[0]!.page.evaluate(
      () => (globalThis as unknown as { system: { mesh: { node: { services: { pubsub: { getTopics(): string[] } } } } } }).system.mesh.node.services.pubsub.getTopics(),
    );
    assert.deepEqual(tabTopics, [], "the subscribing tab joined gossip topics");
    const seedGot: unknown[] = [];
    const seedReader = await seed.system.topic.read(TOPIC);
    seedReader.onMessage((message) => void seedGot.push(message));
    await seedReader.start();

    type Msg = { kind: "probe" | "real"; from: string; mode: pul.PublishMode; n: number };
    const subscribers: Array<{ name: string; received: () => Promise<Msg[]> }> = [
      { name: "tab A", received: () => tabs[0]!.page.evaluate(() => (globalThis as unknown as PageGlobals).topicGot as Msg[]) },
      { name: "the seed", received: async () => seedGot as Msg[] },
    ];
    const publishers: Array<{ name: string; publish: (message: Msg) => Promise<pul.PublishResult> }> = [
      {
        name: "node2",
        publish: async (message) => (await node2.topic.write(TOPIC)).publish(message, { mode: message.mode, timeout: 5_000 }),
      },
      {
        name: "tab B",
        publish: (message) =>
          tabs[1]!.page.evaluate(
            async ({ topic, message }) => (await (globalThis as unknown as PageGlobals).pul.topic.write(topic)).publish(message, { mode: message.mode, timeout: 5_000 }),
            { topic: TOPIC, message },
          ),
      },
    ];
    const MODES: pul.PublishMode[] = ["wait_all_acks", "wait_any_ack", "best_effort", "fire_and_forget"];
    const PER_MODE = 4;

    for (const publisher of publishers) {
      for (const mode of MODES) {
        // Until this publisher's messages in this mode reach every subscriber (the subscriptions must have spread to
        // it first, and however the mode travels), probes; then the messages counted.
        let probe = 0;
        await eventually(async () => {
          const result = await publisher.publish({ kind: "probe", from: publisher.name, mode, n: probe++ });
          assert.equal(result.success, true, `${publisher.name} ${mode} probe: ${JSON.stringify(result)}`);
          await eventually(async () => {
            for (const subscriber of subscribers) {
              const seen = (await subscriber.received()).some((m) => m.kind === "probe" && m.from === publisher.name && m.mode === mode);
              assert.ok(seen, `no ${mode} probe from ${publisher.name} reached ${subscriber.name}`);
            }
          }, 1_000, 50);
        }, 20_000, 0);
        for (let n = 0; n < PER_MODE; n++) {
          const result = await publisher.publish({ kind: "real", from: publisher.name, mode, n });
          assert.equal(result.success, true, `${publisher.name} ${mode} #${n}: ${JSON.stringify(result)}`);
          if (mode === "wait_all_acks") {
            assert.equal(result.subscriberCount, 2, `${publisher.name} ${mode} #${n}: ${JSON.stringify(result)}`);
            assert.equal(result.delivered, 2, `${publisher.name} ${mode} #${n}: ${JSON.stringify(result)}`);
            assert.equal(result.failed, 0, `${publisher.name} ${mode} #${n}: ${JSON.stringify(result)}`);
          }
          if (mode === "wait_any_ack") assert.ok(result.delivered >= 1, `${publisher.name} ${mode} #${n}: ${JSON.stringify(result)}`);
        }
      }
    }

    // Every message reaches every subscriber, once.
    const expected = publishers.flatMap((p) => MODES.flatMap((mode) => range(PER_MODE).map((n) => `${p.name}/${mode}/${n}`))).sort();
    const keys = (messages: Msg[]): string[] => messages.map((m) => `${m.from}/${m.mode}/${m.n}`);
    await eventually(async () => {
      for (const subscriber of subscribers) {
        const received = await subscriber.received();
        assert.deepEqual(keys(received.filter((m) => m.kind === "real")).sort(), expected, `what ${subscriber.name} received`);
      }
    }, 15_000, 100);
    for (const subscriber of subscribers) {
      const probes = keys((await subscriber.received()).filter((m) => m.kind === "probe"));
      assert.equal(new Set(probes).size, probes.length, `${subscriber.name} received a probe twice: ${probes.join(", ")}`);
    }
    const tabStats = await tabs[0]!.page.evaluate(async () => ({ count: ((globalThis as unknown as PageGlobals).topicGot as unknown[]).length }));
    assert.equal(tabStats.count, (await subscribers[0]!.received()).length);
    await seedReader.stop();
  });

  test("a standalone tab (no seeds) keeps its queues itself: write, read, and a waiting read", async ({ browser }) => {
    const { tab, close } = await standaloneTab(browser);
    try {
      const result = await tab.page.evaluate(async () => {
        const { pul, system } = globalThis as unknown as PageGlobals;
        const writer = await pul.queue.write("e2e/standalone", { numBuckets: 4, batchSize: 5 });
        const records = Array.from({ length: 40 }, (_, n) => ({ id: `k${n}`, n, from: system.nodeId }));
        await writer.put(records);
        await writer.flush();
        const stats = await writer.stats();
        const reader = await pul.queue.read("e2e/standalone", { numBuckets: 4 });
        const read: unknown[] = [];
        for (let batch = await reader.get({ limit: 9 }); batch.length > 0; batch = await reader.get({ limit: 9 })) read.push(...batch);
        // A waiting read on the drained reader, woken by a later put.
        const waiting = reader.get({ wait: true, timeout: 10_000 });
        await writer.put({ id: "late", n: 40, from: system.nodeId });
        await writer.flush();
        const late = await waiting;
        return { nodeId: system.nodeId, members: system.members().length, stats, read, late };
      });
      assert.ok(result.members <= 1, `a standalone tab sees ${result.members} members`);
      assert.equal(result.stats.pending, 0);
      for (const bucket of result.stats.buckets) assert.equal(bucket.owner, result.nodeId, `bucket ${bucket.bucketId} is owned by ${bucket.owner}`);
      assert.equal(result.stats.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), 40);
      assert.deepEqual(byN(result.read), range(40));
      assert.deepEqual(result.late, [{ id: "late", n: 40, from: result.nodeId }]);
      assert.deepEqual(tab.errors, []);
    } finally {
      await close();
    }
  });

  test("a standalone tab's level queue (IndexedDB) survives a reload of the page; a memory queue does not", async ({ browser }) => {
    const { tab, close } = await standaloneTab(browser);
    try {
      const before = await tab.page.evaluate(async () => {
        const { pul } = globalThis as unknown as PageGlobals;
        const level = { numBuckets: 4, backend: "level" };
        const writer = await pul.queue.write("e2e/persist", { ...level, batchSize: 6 });
        await writer.put(Array.from({ length: 25 }, (_, n) => ({ id: `k${n}`, n, from: "before" })));
        await writer.flush();
        // A reader group takes 10 records and commits its offsets.
        const group = await pul.queue.read("e2e/persist", { ...level, group: "g" });
        const taken = await group.get({ limit: 10 });
        await group.commit();
        const memory = await pul.queue.write("e2e/volatile", { numBuckets: 2 });
        await memory.put(Array.from({ length: 5 }, (_, n) => ({ id: `k${n}`, n, from: "before" })));
        await memory.flush();
        const stats = await writer.stats();
        return { taken, total: stats.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0) };
      });
      assert.equal(before.taken.length, 10);
      assert.equal(before.total, 25);

      await tab.page.reload();
      await tab.page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: 30_000 });
      const after = await tab.page.evaluate(async () => {
        const { pul } = globalThis as unknown as PageGlobals;
        const level = { numBuckets: 4, backend: "level" };
        const all = await pul.queue.read("e2e/persist", level);
        const read: unknown[] = [];
        for (let batch = await all.get({ limit: 7 }); batch.length > 0; batch = await all.get({ limit: 7 })) read.push(...batch);
        // The group resumes after what it committed.
        const group = await pul.queue.read("e2e/persist", { ...level, group: "g" });
        const rest = await group.get({ limit: 100 });
        // Writing on continues the numbering: the old records stay, the new ones come after them.
        const writer = await pul.queue.write("e2e/persist", level);
        await writer.put(Array.from({ length: 5 }, (_, n) => ({ id: `k${25 + n}`, n: 25 + n, from: "after" })));
        await writer.flush();
        const stats = await writer.stats();
        all.reset();
        const again = await all.get({ limit: 1_000 });
        const volatile = await (await pul.queue.read("e2e/volatile", { numBuckets: 2 })).get({ limit: 100 });
        return { read, rest, total: stats.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), again, volatile: volatile.length };
      });
      assert.deepEqual(byN(after.read), range(25));
      assert.ok((after.read as Rec[]).every((r) => r.from === "before" && r.id === `k${r.n}`), "a record came back changed");
      assert.equal(after.rest.length, 15, `the group resumed with ${after.rest.length} records, not the 15 it had not committed`);
      assert.deepEqual(byN([...before.taken, ...after.rest]), range(25), "the group's records before and after the reload");
      assert.equal(after.total, 30);
      assert.deepEqual(byN(after.again), range(30));
      assert.equal(after.volatile, 0, "the memory queue outlived the page");
      assert.deepEqual(tab.errors, []);
    } finally {
      await close();
    }
  });
});
