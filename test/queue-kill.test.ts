/**
 * A replicated queue whose owner is killed with SIGKILL while a writer keeps writing (issue 12): every record whose
 * flush() resolved is readable afterwards, and none is there twice.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import * as pul from "pulsing";
import { startNode, tcpAddr, type ChildNode } from "./cluster/harness.js";
import { eventually } from "./helpers.js";

describe("a replicated queue under a steady stream of writes", () => {
  let seed: pul.ActorSystem | undefined;
  const children: ChildNode[] = [];
  after(async () => {
    await Promise.all(children.map((child) => child.kill()));
    await seed?.shutdown();
  });

  it("loses no acknowledged record and stores none twice when an owner is killed with SIGKILL", async () => {
    seed = await pul.actorSystem({ addr: "127.0.0.1:0" });
    const system = seed;
    children.push(...(await Promise.all([0, 1].map(() => startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(system)] })))));
    await eventually(() => assert.equal(system.members().filter((m) => m.status === "alive").length, 3), 15_000);

    const options = { numBuckets: 8, replication: 2, acks: "all", batchSize: 20 } as const;
    const writer = await system.queue.write("killed/stream", options);
    let next = 0;
    let acknowledged = 0;
    const failures: unknown[] = [];
    // Writes in rounds of 40 records; a round counts as acknowledged once its flush() resolved.
    const writeRound = async (): Promise<void> => {
      const ids = Array.from({ length: 40 }, () => next++);
      await writer.put(ids.map((id) => ({ id })));
      try {
        await writer.flush();
        acknowledged = ids[ids.length - 1]! + 1;
      } catch (error) {
        failures.push(error);
      }
    };
    for (let round = 0; round < 5; round++) await writeRound();
    const before = await writer.stats();
    const ownedBy = (node: string): number => before.buckets.filter((b) => b.owner === node).length;
    const victim = [...children].sort((a, b) => ownedBy(b.nodeId) - ownedBy(a.nodeId))[0]!;
    assert.ok(ownedBy(victim.nodeId) > 0, "the victim owned no bucket: nothing was tested");

    // Keep writing while the owner dies (bounded: 60 rounds).
    let writing = true;
    const stream = (async () => {
      for (let round = 0; round < 60 && writing; round++) await writeRound();
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await victim.kill();
    await eventually(() => assert.equal(system.members().find((m) => m.nodeId === victim.nodeId)?.status, "dead"), 15_000);
    for (let round = 0; round < 5; round++) await writeRound();
    writing = false;
    await stream;

    assert.deepEqual(failures, [], "a flush failed");
    const reader = await system.queue.read("killed/stream", { numBuckets: 8 });
    const ids: number[] = [];
    for (let batch = await reader.get({ limit: 1_000 }); batch.length > 0; batch = await reader.get({ limit: 1_000 })) ids.push(...batch.map((r) => r.id as number));
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(twice, [], "records stored twice");
    const missing = Array.from({ length: acknowledged }, (_, id) => id).filter((id) => !counts.has(id));
    assert.deepEqual(missing, [], `acknowledged records missing after the owner of ${ownedBy(victim.nodeId)} buckets was killed`);
    assert.ok(acknowledged >= 400, `only ${acknowledged} records were acknowledged`);
    const after = await writer.stats();
    assert.deepEqual(after.buckets.filter((b) => b.lost === true).map((b) => b.bucketId), [], "a bucket was reported lost");
  });
});
