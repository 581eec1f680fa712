/**
 * The `level` queue backend (issue 12): records, writers' batch numbers and group offsets kept in LevelDB survive a
 * restart of their node — a standalone system shut down and started again, and a cluster member killed with SIGKILL
 * and restarted with the same key — and a database another node or process holds is refused with a typed error.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { generatePrivateKey } from "pulsing/node";
import { QUEUE_STORAGE_NAME, QueueStorage } from "../src/streaming/queue-storage.js";
import { startNode, tcpAddr, type ChildNode } from "./cluster/harness.js";
import { eventually, hasCode } from "./helpers.js";

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

async function readAll(reader: pul.QueueReader): Promise<number[]> {
  const ids: number[] = [];
  for (let batch = await reader.get({ limit: 500 }); batch.length > 0; batch = await reader.get({ limit: 500 })) ids.push(...batch.map((r) => r.id as number));
  return ids;
}

describe("a level queue on a standalone system", () => {
  let dir: string;
  const systems: pul.ActorSystem[] = [];
  before(async () => void (dir = await mkdtemp(join(tmpdir(), "pulsing-level-"))));
  after(async () => {
    await Promise.all(systems.map((s) => s.shutdown()));
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps records, batch numbers and group offsets across a restart of the system", async () => {
    const options = { numBuckets: 4, backend: "level", backendOptions: { storagePath: dir } } as const;
    const first = await pul.actorSystem();
    systems.push(first);
    const writer = await first.queue.write("level/orders", { ...options, bucketColumn: "user", batchSize: 7 });
    await writer.put(range(0, 60).map((id) => ({ id, user: `u${id % 9}` })));
    await writer.flush();
    const group = await first.queue.read("level/orders", { ...options, group: "billing" });
    const firstPart = await group.get({ limit: 10 });
    assert.ok(firstPart.length > 0);
    await group.commit();
    // A batch stored after the last commit: its number is kept with it (a retry after the restart is told "stored").
    const storage = (await first.resolve(QUEUE_STORAGE_NAME, { nodeId: first.nodeId })).asType(QueueStorage);
    const spec = { backend: "level", backendOptions: { storagePath: dir } };
    const stored = await storage.put("level/orders", 0, spec, "producer-x", 3, [{ id: 1_000 }]);
    assert.ok(stored.ok && stored.value.stored);
    await first.shutdown();
    systems.splice(0);

    const second = await pul.actorSystem();
    systems.push(second);
    assert.notEqual(second.nodeId, first.nodeId);
    const reader = await second.queue.read("level/orders", options);
    const ids = await readAll(reader);
    assert.deepEqual([...ids].sort((a, b) => a - b), [...range(0, 60), 1_000], "records after the restart");
    // Per bucket, in the order they were put.
    const again = await second.queue.read("level/orders", options);
    const records = (await again.get({ limit: 1_000 })) as Array<{ id: number; user?: string }>;
    for (const user of new Set(records.map((r) => r.user))) {
      const inBucket = records.filter((r) => r.user === user).map((r) => r.id);
      assert.deepEqual(inBucket, [...inBucket].sort((a, b) => a - b), `records of ${user}`);
    }
    // The group resumes where it committed: what it read before the restart is not read again.
    const resumed = await second.queue.read("level/orders", { ...options, group: "billing" });
    const rest = await readAll(resumed);
    assert.equal(rest.length + firstPart.length, 61, "the group's offsets after the restart");
    assert.deepEqual([...rest, ...firstPart.map((r) => r.id as number)].sort((a, b) => a - b), [...range(0, 60), 1_000]);
    // A batch retried after the restart is still stored once.
    const storageAfter = (await second.resolve(QUEUE_STORAGE_NAME, { nodeId: second.nodeId })).asType(QueueStorage);
    const retried = await storageAfter.put("level/orders", 0, spec, "producer-x", 3, [{ id: 1_000 }]);
    assert.ok(retried.ok);
    assert.equal(retried.value.stored, false, "a batch retried after the restart was stored twice");
    // And the bucket goes on from where it was.
    const writerAfter = await second.queue.write("level/orders", { ...options, bucketColumn: "user" });
    await writerAfter.put(range(60, 70).map((id) => ({ id, user: `u${id % 9}` })));
    await writerAfter.flush();
    assert.equal((await writerAfter.stats()).buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0), 71);
  });

  it("refuses a database another node of this process holds, with a typed error", async () => {
    const holder = systems[0]!;
    const other = await pul.actorSystem();
    systems.push(other);
    const writer = await other.queue.write("level/orders", { numBuckets: 4, backend: "level", backendOptions: { storagePath: dir } });
    await writer.put({ id: 1, user: "u1" });
    await assert.rejects(writer.flush(), hasCode("STORAGE_FAILED", new RegExp(`in use by another node of this process \\(${holder.nodeId}\\)`)));
  });

  it("refuses a database another process holds, with a typed error", async () => {
    const held = join(dir, "held");
    const holder = spawn(
      process.execPath,
      ["--input-type=module", "-e", `import { Level } from "level"; const db = new Level(${JSON.stringify(held)}); await db.open(); console.log("open"); process.stdin.resume();`],
      { cwd: process.cwd(), stdio: ["pipe", "pipe", "inherit"] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.once("data", () => resolve());
        holder.once("exit", (code) => reject(new Error(`the holding process exited (${code})`)));
      });
      const system = await pul.actorSystem();
      systems.push(system);
      const writer = await system.queue.write("level/held", { numBuckets: 1, backend: "level", backendOptions: { storagePath: held } });
      await writer.put({ id: 1 });
      await assert.rejects(writer.flush(), hasCode("STORAGE_FAILED", /cannot open/));
    } finally {
      holder.kill("SIGKILL");
    }
  });
});

describe("a level queue on a cluster member killed and restarted", () => {
  let dir: string;
  let seed: pul.ActorSystem;
  let child: ChildNode | undefined;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pulsing-level-cluster-"));
    seed = await pul.actorSystem({ addr: "127.0.0.1:0" });
  });
  after(async () => {
    await child?.kill();
    await seed?.shutdown();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves every acknowledged record again once the node is back with the same key", async () => {
    const key = Buffer.from(await generatePrivateKey()).toString("hex");
    const options = { addr: "127.0.0.1:0", seeds: [tcpAddr(seed)], privateKeyHex: key };
    child = await startNode(options);
    const childId = child.nodeId;
    await eventually(() => assert.equal(seed.members().find((m) => m.nodeId === childId)?.status, "alive"), 15_000);

    const queue = { numBuckets: 16, backend: "level", backendOptions: { storagePath: dir } } as const;
    const writer = await seed.queue.write("level/cluster", { ...queue, batchSize: 10 });
    await writer.put(range(0, 200).map((id) => ({ id })));
    await writer.flush();
    const before = await writer.stats();
    const owned = before.buckets.filter((b) => b.owner === childId).length;
    assert.ok(owned > 0, "the child owned no bucket: nothing was tested");

    await child.kill();
    await eventually(() => assert.equal(seed.members().find((m) => m.nodeId === childId)?.status, "dead"), 15_000);
    child = await startNode(options);
    assert.equal(child.nodeId, childId, "the restarted node has its old id");
    await eventually(() => assert.equal(seed.members().find((m) => m.nodeId === childId)?.status, "alive"), 15_000);

    const reader = await seed.queue.read("level/cluster", queue);
    assert.deepEqual((await readAll(reader)).sort((a, b) => a - b), range(0, 200), `after the owner of ${owned} buckets restarted`);
    await writer.put(range(200, 240).map((id) => ({ id })));
    await writer.flush();
    const after = await writer.stats();
    assert.deepEqual(after.buckets.filter((b) => b.lost === true), [], "a bucket was reported lost");
    assert.equal(after.buckets.filter((b) => b.owner === childId).length, owned);
    assert.deepEqual((await readAll(reader)).sort((a, b) => a - b), range(200, 240));
  });
});
