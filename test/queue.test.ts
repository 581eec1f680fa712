/**
 * Queues (issue 12, first part): `queue.write` / `queue.read` on a standalone system and on a cluster of real
 * nodes, buckets placed by Pulsing's rule (MD5 of the key) and owned by XOR distance over the membership, batches
 * numbered so a retried one is stored once, readers by bucket, rank and group, and typed errors for bad input.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { bucketKey, bucketOf, closestNodes } from "../src/streaming/bucket.js";
import { QUEUE_STORAGE_NAME, QueueStorage } from "../src/streaming/queue-storage.js";
import { inProcessCluster, tcpAddr as tcpOf } from "./cluster/harness.js";
import { eventually, hasCode } from "./helpers.js";

const rejectsWithCode = (promise: Promise<unknown> | (() => unknown), code: string, pattern?: RegExp): Promise<void> =>
  assert.rejects(async () => (typeof promise === "function" ? promise() : promise), hasCode(code, pattern));

describe("queue buckets: Pulsing's rule and placement by distance", () => {
  it("puts a key in the bucket Pulsing puts it in (MD5 of String(key), big-endian, modulo the bucket count)", () => {
    // From Python: [int(hashlib.md5(str(v).encode()).hexdigest(), 16) % n for n in (4, 7, 16)]
    const pulsing: Array<[unknown, number[]]> = [
      ["u1", [0, 1, 4]],
      ["u2", [3, 1, 3]],
      ["hello", [2, 4, 2]],
      [0, [2, 0, 10]],
      [1, [3, 2, 11]],
      [42, [2, 0, 6]],
      [12345, [3, 4, 11]],
      ["user-7", [0, 3, 0]],
    ];
    for (const [key, buckets] of pulsing) assert.deepEqual([4, 7, 16].map((n) => bucketOf(key, n)), buckets, `key ${String(key)}`);
    assert.equal(bucketOf(42, 4), bucketOf("42", 4), "an integer key and its string land together");
  });

  it("names the same owners whatever the order of the view, closest first", () => {
    const nodes = Array.from({ length: 20 }, (_, i) => `node-${i}`);
    const owners = closestNodes(bucketKey("q", 3), nodes, 3);
    assert.equal(owners.length, 3);
    assert.deepEqual(closestNodes(bucketKey("q", 3), [...nodes].reverse(), 3), owners);
    assert.deepEqual(closestNodes(bucketKey("q", 3), nodes, 1), owners.slice(0, 1));
    // Buckets spread over the nodes.
    const spread = new Set(Array.from({ length: 64 }, (_, b) => closestNodes(bucketKey("q", b), nodes, 1)[0]));
    assert.ok(spread.size >= 10, `64 buckets on ${spread.size} of 20 nodes`);
  });
});

describe("a queue on a standalone system", () => {
  let system: pul.ActorSystem;
  before(async () => void (system = await pul.actorSystem()));
  after(async () => system?.shutdown());

  it("writes records and reads them back, in order per bucket, with offsets that move", async () => {
    const writer = await system.queue.write("standalone/orders", { bucketColumn: "user", numBuckets: 4, batchSize: 3 });
    const records = Array.from({ length: 40 }, (_, i) => ({ user: `u${i % 5}`, n: i }));
    await writer.put(records.slice(0, 1));
    await writer.put(records.slice(1));
    await writer.flush();
    const stats = await writer.stats();
    assert.equal(stats.pending, 0);
    assert.equal(stats.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), 40);
    for (const bucket of stats.buckets) assert.equal(bucket.owner, system.nodeId);

    const reader = await system.queue.read("standalone/orders", { numBuckets: 4 });
    const got: Array<{ user: string; n: number }> = [];
    for (let batch = await reader.get({ limit: 7 }); batch.length > 0; batch = await reader.get({ limit: 7 })) {
      assert.ok(batch.length <= 7);
      got.push(...(batch as Array<{ user: string; n: number }>));
    }
    assert.deepEqual(got.map((r) => r.n).sort((a, b) => a - b), records.map((r) => r.n));
    // Per bucket (so per user), in the order put.
    for (const user of ["u0", "u1", "u2", "u3", "u4"]) {
      const ns = got.filter((r) => r.user === user).map((r) => r.n);
      assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `records of ${user} out of order`);
    }
    reader.reset();
    assert.equal((await reader.get({ limit: 1_000 })).length, 40);
    const bucketOfU1 = bucketOf("u1", 4);
    reader.setOffset(0, bucketOfU1);
    assert.ok((await reader.get({ limit: 1_000 })).every((r) => bucketOf(r.user, 4) === bucketOfU1));
  });

  it("reads ahead without skipping or repeating a record: new records, other limits, moved offsets, commits", async () => {
    const writer = await system.queue.write("standalone/ahead", { numBuckets: 1, batchSize: 10 });
    const put = async (from: number, to: number) => {
      await writer.put(Array.from({ length: to - from }, (_, i) => ({ id: from + i, n: from + i })));
      await writer.flush();
    };
    const ns = (records: unknown[]) => records.map((r) => (r as { n: number }).n);
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    await put(0, 30);
    const reader = await system.queue.read("standalone/ahead", { numBuckets: 1, group: "g" });
    assert.deepEqual(ns(await reader.get({ limit: 10 })), range(0, 10)); // full: 10…19 are asked for now
    // The owner served them without another get: its copy counts 20 records read.
    const served = async () => (await (await pul.getSystemActor(system)).getQueuesAndTopics()).queues.find((q) => q.topic === "standalone/ahead")?.read;
    await eventually(async () => assert.equal(await served(), 20), 5_000);
    await put(30, 60);
    assert.deepEqual(ns(await reader.get({ limit: 5 })), range(10, 15));
    assert.deepEqual(ns(await reader.get({ limit: 100 })), range(15, 60)); // what was read ahead, then the rest
    assert.deepEqual(await reader.get({ limit: 100 }), []);
    reader.setOffset(0);
    assert.deepEqual(ns(await reader.get({ limit: 3 })), range(0, 3));
    await reader.commit(); // what was handed out, not what was read ahead
    reader.setOffset(50);
    assert.deepEqual(ns(await reader.get({ limit: 100 })), range(50, 60));
    const resumed = await system.queue.read("standalone/ahead", { numBuckets: 1, group: "g" });
    assert.deepEqual(resumed.offsets(), { 0: 3 });
    assert.deepEqual(ns(await resumed.get({ limit: 4 })), range(3, 7));
    reader.reset();
    assert.deepEqual(ns(await reader.get({ limit: 1_000 })), range(0, 60));
  });

  it("reads by bucket, by buckets and by rank of a world size", async () => {
    const writer = await system.queue.write("standalone/ranks", { numBuckets: 4 });
    await writer.put(Array.from({ length: 100 }, (_, id) => ({ id })));
    await writer.flush();
    const counts = await Promise.all(
      [0, 1].map(async (rank) => {
        const reader = await system.queue.read("standalone/ranks", { rank, worldSize: 2, numBuckets: 4 });
        assert.deepEqual([...reader.bucketIds], rank === 0 ? [0, 2] : [1, 3]);
        const records = await reader.get({ limit: 1_000 });
        for (const r of records) assert.equal(bucketOf(r.id, 4) % 2, rank);
        return records.length;
      }),
    );
    assert.equal(counts[0]! + counts[1]!, 100);
    const one = await system.queue.read("standalone/ranks", { bucketId: 3 });
    assert.ok((await one.get({ limit: 1_000 })).every((r) => bucketOf(r.id, 4) === 3));
    const two = await system.queue.read("standalone/ranks", { bucketIds: [0, 3] });
    assert.deepEqual([...two.bucketIds], [0, 3]);
  });

  it("wakes a waiting get as soon as a record arrives in any of its buckets, and returns [] at its timeout", async () => {
    const reader = await system.queue.read("standalone/wait", { numBuckets: 8 });
    const writer = await system.queue.write("standalone/wait", { numBuckets: 8, batchSize: 1 });
    const started = performance.now();
    assert.deepEqual(await reader.get({ wait: true, timeout: 200 }), []);
    assert.ok(performance.now() - started >= 190, "returned before its timeout");
    const waiting = reader.get({ wait: true, timeout: 20_000 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await writer.put({ id: "late" });
    const t = performance.now();
    assert.deepEqual(await waiting, [{ id: "late" }]);
    assert.ok(performance.now() - t < 10_000);
    // Nothing lost to the buckets that did not answer first.
    await writer.put([{ id: "a" }, { id: "b" }, { id: "c" }]);
    await writer.flush();
    const rest = await reader.get({ limit: 10 });
    assert.deepEqual(rest.map((r) => r.id).sort(), ["a", "b", "c"]);
  });

  it("iterates records as they come", async () => {
    const writer = await system.queue.write("standalone/iter", { batchSize: 1 });
    const reader = await system.queue.read("standalone/iter");
    const seen: unknown[] = [];
    const consuming = (async () => {
      for await (const record of reader) {
        seen.push(record.id);
        if (seen.length === 5) break;
      }
    })();
    for (let id = 0; id < 5; id++) await writer.put({ id });
    await consuming;
    assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
  });

  it("stores a retried batch once (a writer's batch number)", async () => {
    const writer = await system.queue.write("standalone/dedup", { numBuckets: 1 });
    await writer.put({ id: 1 });
    await writer.flush();
    const storage = (await system.resolve(QUEUE_STORAGE_NAME, { nodeId: system.nodeId })).asType(QueueStorage);
    const spec = { backend: "memory", backendOptions: {} };
    const first = await storage.put("standalone/dedup", 0, spec, "producer-x", 7, [{ id: 2 }]);
    const again = await storage.put("standalone/dedup", 0, spec, "producer-x", 7, [{ id: 2 }]);
    assert.ok(first.ok && again.ok);
    assert.deepEqual([first.value.stored, first.value.totalCount], [true, 2]);
    assert.deepEqual([again.value.stored, again.value.totalCount], [false, 2], "a retried batch was stored twice");
    // What another node could send it that is not a bucket call.
    const bad = (call: () => Promise<unknown>, pattern: RegExp) => rejectsWithCode(call(), "INVALID_ARGUMENT", pattern);
    await bad(() => storage.put("standalone/dedup", 0, null as never, "p", 1, [{ id: 1 }]), /spec/);
    await bad(() => storage.put("standalone/dedup", 0, spec, "p", -1, [{ id: 1 }]), /batch number/);
    await bad(() => storage.put("standalone/dedup", 0, spec, "p", 8, [{ id: 1 }, 5 as never]), /record 1/);
    await bad(() => storage.commit("standalone/dedup", 0, spec, undefined as never, 1), /group/);
    await bad(() => storage.get("standalone/dedup", -1, spec, 0, 1, 0), /bucket id/);
  });

  it("uses a registered backend", async () => {
    const made: Array<{ topic: string; bucketId: number; label?: unknown }> = [];
    class TaggingBackend extends pul.MemoryBackend {
      constructor(init: pul.BackendInit) {
        super(init);
        made.push({ topic: init.topic, bucketId: init.bucketId, label: init.label });
      }
      override async stats(): Promise<Record<string, unknown>> {
        return { ...(await super.stats()), backend: "tagging" };
      }
    }
    pul.queue.registerBackend("tagging", TaggingBackend);
    const writer = await system.queue.write("standalone/custom", { numBuckets: 2, backend: "tagging", backendOptions: { label: "x" } });
    await writer.put([{ id: "a" }, { id: "b" }, { id: "c" }]);
    await writer.flush();
    assert.ok(made.length >= 1 && made.every((m) => m.topic === "standalone/custom" && m.label === "x"), JSON.stringify(made));
    await rejectsWithCode(system.queue.write("standalone/custom2", { backend: "nope" }).then(async (w) => (await w.put({ id: 1 }), w.flush())), "INVALID_OPTION", /unknown queue backend 'nope'/);
  });

  it("refuses bad input with typed errors naming what was wrong", async () => {
    const writer = await system.queue.write("standalone/bad", { bucketColumn: "user" });
    await rejectsWithCode(writer.put({ name: "no user" }), "INVALID_ARGUMENT", /bucket column 'user'/);
    await rejectsWithCode(writer.put([{ user: "ok" }, "text" as unknown as Record<string, unknown>]), "INVALID_ARGUMENT", /record 1 is not an object/);
    await rejectsWithCode(system.queue.write(""), "INVALID_ARGUMENT", /queue name/);
    await rejectsWithCode(system.queue.write("q", { numBuckets: 0 }), "INVALID_OPTION", /numBuckets/);
    await rejectsWithCode(system.queue.write("q", { bucket_column: "x" } as never), "INVALID_OPTION", /bucket_column/);
    await rejectsWithCode(system.queue.write("q", { replication: 0 }), "INVALID_OPTION", /replication/);
    await rejectsWithCode(system.queue.write("q", { acks: "some" as never }), "INVALID_OPTION", /acks/);
    await rejectsWithCode(system.queue.write("q", { backend: "level", backendOptions: { storagePath: 5 } }), "INVALID_OPTION", /storagePath/);
    await rejectsWithCode(system.queue.read("q", { rank: 2, worldSize: 2 }), "INVALID_OPTION", /rank/);
    await rejectsWithCode(system.queue.read("q", { rank: 0 }), "INVALID_OPTION", /worldSize/);
    await rejectsWithCode(system.queue.read("q", { bucketId: 4, numBuckets: 4 }), "INVALID_OPTION", /bucket 4/);
    await rejectsWithCode(system.queue.read("q", { bucketId: 0, rank: 0, worldSize: 1 }), "INVALID_OPTION", /one of/);
    const reader = await system.queue.read("q");
    await rejectsWithCode(reader.commit(), "INVALID_STATE", /group/);
    await rejectsWithCode(() => reader.setOffset(-1), "INVALID_ARGUMENT", /offset/);
    await rejectsWithCode(reader.get({ limit: 0 }), "INVALID_OPTION", /limit/);
  });
});

describe("a queue on a cluster of three nodes", () => {
  let seed: pul.ActorSystem;
  let others: pul.ActorSystem[];
  before(async () => void ([seed, ...others] = await inProcessCluster(3)));
  after(async () => Promise.all([seed, ...(others ?? [])].map((s) => s?.shutdown())));

  it("keeps each bucket on the node closest to it, and a reader on another node reads every record", async () => {
    const [writerNode, readerNode] = others;
    const writer = await writerNode!.queue.write("cluster/events", { numBuckets: 8, batchSize: 10 });
    const records = Array.from({ length: 200 }, (_, id) => ({ id, payload: `event ${id}` }));
    await writer.put(records);
    await writer.flush();
    const stats = await writer.stats();
    const nodes = [seed, ...others].map((s) => s.nodeId);
    for (const bucket of stats.buckets) {
      assert.equal(bucket.owner, closestNodes(bucketKey("cluster/events", bucket.bucketId), nodes, 1)[0], `owner of bucket ${bucket.bucketId}`);
    }
    assert.ok(new Set(stats.buckets.map((b) => b.owner)).size >= 2, "every bucket on one node");
    assert.equal(stats.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), 200);

    const reader = await readerNode!.queue.read("cluster/events", { numBuckets: 8 });
    const got: unknown[] = [];
    for (let batch = await reader.get({ limit: 64 }); batch.length > 0; batch = await reader.get({ limit: 64 })) got.push(...batch);
    assert.deepEqual(got.map((r) => (r as { id: number }).id).sort((a, b) => a - b), records.map((r) => r.id));
  });

  it("ten producers and ten readers at once: every record read once, each producer's records in order per bucket", async () => {
    const nodes = [seed, ...others];
    const numBuckets = 10;
    const perProducer = 120;
    const readers = await Promise.all(
      Array.from({ length: 10 }, (_, rank) => nodes[rank % 3]!.queue.read("cluster/busy", { numBuckets, rank, worldSize: 10 })),
    );
    const got: Array<Array<{ producer: number; n: number; key: string }>> = readers.map(() => []);
    const total = 10 * perProducer;
    let read = 0;
    const deadline = Date.now() + 30_000;
    // Readers wait for records while the producers write.
    const reading = readers.map(async (reader, i) => {
      while (read < total && Date.now() < deadline) {
        const batch = (await reader.get({ limit: 50, wait: true, timeout: 200 })) as Array<{ producer: number; n: number; key: string }>;
        got[i]!.push(...batch);
        read += batch.length;
      }
    });
    await Promise.all(
      Array.from({ length: 10 }, async (_, producer) => {
        const writer = await nodes[producer % 3]!.queue.write("cluster/busy", { numBuckets, bucketColumn: "key", batchSize: 7 });
        for (let n = 0; n < perProducer; n += 12) {
          await writer.put(Array.from({ length: 12 }, (_, i) => ({ producer, n: n + i, key: `k${(n + i) % 17}` })));
        }
        await writer.flush();
      }),
    );
    await Promise.all(reading);
    const all = got.flat();
    assert.equal(all.length, total, `read ${all.length} of ${total}`);
    assert.equal(new Set(all.map((r) => `${r.producer}/${r.n}`)).size, total, "a record was read twice");
    for (const [rank, records] of got.entries()) {
      for (const r of records) assert.equal(bucketOf(r.key, numBuckets) % 10, rank, `rank ${rank} read a record of another rank`);
      // One key is one bucket: each producer's records of a key come in the order they were put.
      for (const key of new Set(records.map((r) => r.key))) {
        for (let producer = 0; producer < 10; producer++) {
          const ns = records.filter((r) => r.key === key && r.producer === producer).map((r) => r.n);
          assert.deepEqual(ns, [...ns].sort((a, b) => a - b), `producer ${producer}, key ${key}`);
        }
      }
    }
  });

  it("a record too big for a frame is refused on its own, and a reader is told where it is and steps over it", async () => {
    const nodes = [seed, ...others];
    const owner = closestNodes(bucketKey("cluster/big", 0), nodes.map((n) => n.nodeId), 1)[0];
    const [remote, other] = nodes.filter((n) => n.nodeId !== owner) as [pul.ActorSystem, pul.ActorSystem];
    const ownerNode = nodes.find((n) => n.nodeId === owner)!;
    const big = "x".repeat(9_000_000); // over the 8 MiB frame (maxFrameSize)
    // A writer on another node: its batch does not fit in a frame; the big record is refused, the others stored.
    const writer = await remote.queue.write("cluster/big", { numBuckets: 1, batchSize: 10 });
    await writer.put([{ id: "a" }, { id: "too-big", big }, { id: "b" }, { id: "c" }]);
    await assert.rejects(writer.flush(), hasCode("FRAME_TOO_LARGE", /bucket 0 \(id "too-big"\) does not fit in a frame/));
    assert.equal((await writer.stats()).pending, 0);
    // On the owner's own node the call is local: the big record is stored; a reader elsewhere cannot take it in.
    const local = await ownerNode.queue.write("cluster/big", { numBuckets: 1 });
    await local.put([{ id: "local-big", big }, { id: "d" }]);
    await local.flush();
    const reader = await other.queue.read("cluster/big", { numBuckets: 1 });
    // Answers too big for a frame are asked again for fewer records, down to the one that cannot come.
    const before: unknown[] = [];
    let refusal: unknown;
    for (let i = 0; i < 10 && refusal === undefined; i++) {
      try {
        before.push(...(await reader.get({ limit: 100 })).map((r) => r.id));
      } catch (error) {
        refusal = error;
      }
    }
    assert.deepEqual(before, ["a", "b", "c"]);
    assert.ok(hasCode("FRAME_TOO_LARGE", /record at offset 3 of bucket 0 does not fit in a frame.*setOffset\(4, 0\)/)(refusal));
    reader.setOffset(4, 0);
    assert.deepEqual((await reader.get({ limit: 100 })).map((r) => r.id), ["d"]);
  });

  it("a reader group resumes where the group committed, on any node", async () => {
    const writer = await seed.queue.write("cluster/jobs", { numBuckets: 2 });
    await writer.put(Array.from({ length: 20 }, (_, id) => ({ id })));
    await writer.flush();
    const first = await others[0]!.queue.read("cluster/jobs", { numBuckets: 2, group: "workers" });
    const taken = await first.get({ limit: 6 });
    assert.equal(taken.length, 6);
    await first.commit();
    const second = await others[1]!.queue.read("cluster/jobs", { numBuckets: 2, group: "workers" });
    const rest = await second.get({ limit: 100 });
    assert.equal(rest.length, 14);
    assert.deepEqual([...taken, ...rest].map((r) => r.id).sort((a, b) => (a as number) - (b as number)), Array.from({ length: 20 }, (_, id) => id));
    // Another group starts at the beginning.
    const other = await seed.queue.read("cluster/jobs", { numBuckets: 2, group: "audit" });
    assert.equal((await other.get({ limit: 100 })).length, 20);
  });

  it("a waiting reader on one node wakes when a record is put on another", async () => {
    const reader = await seed.queue.read("cluster/live", { numBuckets: 4 });
    const waiting = reader.get({ wait: true, timeout: 20_000 });
    const writer = await others[1]!.queue.write("cluster/live", { numBuckets: 4, batchSize: 1 });
    await writer.put({ id: "ping" });
    assert.deepEqual(await waiting, [{ id: "ping" }]);
  });
});

describe("a queue while membership changes", () => {
  const systems: pul.ActorSystem[] = [];
  const start = async (seeds?: string[]): Promise<pul.ActorSystem> => {
    const system = await pul.actorSystem({ addr: "127.0.0.1:0", ...(seeds ? { seeds } : {}) });
    systems.push(system);
    return system;
  };
  const alive = (system: pul.ActorSystem): number => system.members().filter((m) => m.status === "alive").length;
  const converged = async (among: pul.ActorSystem[], count: number): Promise<void> =>
    eventually(() => {
      for (const system of among) assert.equal(alive(system), count, `view of ${system.nodeId}`);
    }, 15_000);
  const readAll = async (reader: pul.QueueReader): Promise<number[]> => {
    const ids: number[] = [];
    for (let batch = await reader.get({ limit: 500 }); batch.length > 0; batch = await reader.get({ limit: 500 })) ids.push(...batch.map((r) => r.id as number));
    return ids.sort((a, b) => a - b);
  };
  const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);
  after(async () => void (await Promise.all(systems.map((s) => s.shutdown()))));

  it("nodes that join closer to buckets take them over before serving: nothing acknowledged is lost", async () => {
    const seed = await start();
    const first = await start([tcpOf(seed)]);
    await converged([seed, first], 2);
    const writer = await first.queue.write("moving/events", { numBuckets: 16, batchSize: 25 });
    await writer.put(range(0, 300).map((id) => ({ id })));
    await writer.flush();
    const before = await writer.stats();

    const joined = await Promise.all([start([tcpOf(seed)]), start([tcpOf(seed)])]);
    await converged(systems, 4);
    const after = await writer.stats();
    const moved = after.buckets.filter((b, i) => b.owner !== before.buckets[i]!.owner);
    assert.ok(moved.length > 0, "no bucket changed owner: nothing was tested");
    const nodes = systems.map((s) => s.nodeId);
    for (const bucket of after.buckets) {
      assert.equal(bucket.owner, closestNodes(bucketKey("moving/events", bucket.bucketId), nodes, 1)[0]);
      assert.equal(bucket.lost, undefined, `bucket ${bucket.bucketId} reported lost`);
    }
    assert.equal(after.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), 300, JSON.stringify(after.buckets));

    const reader = await joined[1]!.queue.read("moving/events", { numBuckets: 16 });
    assert.deepEqual(await readAll(reader), range(0, 300));
    await writer.put(range(300, 400).map((id) => ({ id })));
    await writer.flush();
    assert.deepEqual(await readAll(reader), range(300, 400));
  });

  it("a node that shuts down hands its buckets to their next owners", async () => {
    const writer = await systems[1]!.queue.write("moving/events", { numBuckets: 16 });
    const stats = await writer.stats();
    // The joined node owning the most buckets leaves.
    const leaving = systems.slice(2).sort((a, b) => stats.buckets.filter((x) => x.owner === b.nodeId).length - stats.buckets.filter((x) => x.owner === a.nodeId).length)[0]!;
    const owned = stats.buckets.filter((b) => b.owner === leaving.nodeId).length;
    assert.ok(owned > 0, "the leaving node owned no bucket: nothing was tested");
    await leaving.shutdown();
    systems.splice(systems.indexOf(leaving), 1);
    await converged(systems, 3);
    const reader = await systems[0]!.queue.read("moving/events", { numBuckets: 16 });
    assert.deepEqual(await readAll(reader), range(0, 400), `after a node owning ${owned} buckets left`);
    const after = await writer.stats();
    assert.equal(after.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), 400);
  });

  it("a killed owner's records are reported lost by the writer (memory backend, no replica), not hidden", async () => {
    const writer = await systems[1]!.queue.write("moving/fragile", { numBuckets: 8 });
    await writer.put(range(0, 80).map((id) => ({ id })));
    await writer.flush();
    const before = await writer.stats();
    const ownedBy = (node: pul.ActorSystem): number[] => before.buckets.filter((b) => b.owner === node.nodeId).map((b) => b.bucketId);
    // The other node owning the most buckets (a fixed pick owned none in about 4 % of runs).
    const victim = systems.filter((s) => s !== systems[1]).sort((a, b) => ownedBy(b).length - ownedBy(a).length)[0]!;
    const owned = ownedBy(victim);
    assert.ok(owned.length > 0, "the victim owned no bucket: nothing was tested");
    // Killed: its libp2p node stops at once (no leave, no hand-over).
    await (victim as unknown as { mesh: { node: { stop(): Promise<void> } } }).mesh.node.stop();
    await eventually(() => assert.equal(systems[1]!.members().find((m) => m.nodeId === victim.nodeId)?.status, "dead"), 15_000);
    const after = await writer.stats();
    assert.deepEqual(after.buckets.filter((b) => b.lost === true).map((b) => b.bucketId), owned);
    for (const bucket of after.buckets) assert.notEqual(bucket.owner, victim.nodeId);
    await victim.shutdown();
    systems.splice(systems.indexOf(victim), 1);
  });
});

describe("a replicated queue (replication 2, acks all)", () => {
  const systems: pul.ActorSystem[] = [];
  after(async () => void (await Promise.all(systems.map((s) => s.shutdown()))));

  it("a killed owner's follower carries on with every acknowledged record", async () => {
    systems.push(...(await inProcessCluster(3)));
    const writerNode = systems[1]!;
    const writer = await writerNode.queue.write("replicated/orders", { numBuckets: 8, replication: 2, acks: "all", batchSize: 20 });
    await writer.put(Array.from({ length: 200 }, (_, id) => ({ id })));
    await writer.flush();
    const before = await writer.stats();
    for (const bucket of before.buckets) {
      assert.equal(bucket.replicas.length, 1, `bucket ${bucket.bucketId}: ${JSON.stringify(bucket)}`);
      assert.notEqual(bucket.replicas[0], bucket.owner);
      // The follower really holds the copy (acks all: before flush() resolved).
      const follower = (await writerNode.resolve(QUEUE_STORAGE_NAME, { nodeId: bucket.replicas[0]! })).asType(QueueStorage);
      const copy = await follower.replicaState("replicated/orders", bucket.bucketId);
      assert.equal(copy?.records.length, bucket.totalCount, `the follower's copy of bucket ${bucket.bucketId}`);
    }
    const candidates = systems.filter((s) => s !== writerNode);
    const victim = candidates.sort((a, b) => before.buckets.filter((x) => x.owner === b.nodeId).length - before.buckets.filter((x) => x.owner === a.nodeId).length)[0]!;
    const owned = before.buckets.filter((b) => b.owner === victim.nodeId).length;
    assert.ok(owned > 0, "the victim owned no bucket: nothing was tested");
    await (victim as unknown as { mesh: { node: { stop(): Promise<void> } } }).mesh.node.stop();
    await eventually(() => assert.equal(writerNode.members().find((m) => m.nodeId === victim.nodeId)?.status, "dead"), 15_000);

    const after = await writer.stats();
    assert.deepEqual(after.buckets.filter((b) => b.lost === true), [], "a bucket was reported lost");
    assert.equal(after.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), 200, `after the owner of ${owned} buckets was killed`);
    const reader = await writerNode.queue.read("replicated/orders", { numBuckets: 8 });
    const ids: number[] = [];
    for (let batch = await reader.get({ limit: 500 }); batch.length > 0; batch = await reader.get({ limit: 500 })) ids.push(...batch.map((r) => r.id as number));
    assert.deepEqual(ids.sort((a, b) => a - b), Array.from({ length: 200 }, (_, id) => id));
    // And writing goes on (acks all: the one follower left is the other node).
    await writer.put(Array.from({ length: 20 }, (_, i) => ({ id: 200 + i })));
    await writer.flush();
    const more: number[] = [];
    for (let batch = await reader.get({ limit: 500 }); batch.length > 0; batch = await reader.get({ limit: 500 })) more.push(...batch.map((r) => r.id as number));
    assert.deepEqual(more.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => 200 + i));
  });
});
