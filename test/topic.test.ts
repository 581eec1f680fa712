/**
 * Topics (issue 12): `topic.write` / `topic.read` on real nodes — every subscriber gets each message once, the four
 * publish modes, a subscriber that never acknowledges failing at its timeout (never a hang), readers that stop.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { inProcessCluster } from "./cluster/harness.js";
import { eventually, hasCode } from "./helpers.js";

describe("topics on a standalone system", () => {
  let system: pul.ActorSystem;
  before(async () => void (system = await pul.actorSystem()));
  after(async () => system?.shutdown());

  it("delivers to every reader of the topic on the node, and reports the publish", async () => {
    const a: unknown[] = [];
    const b: unknown[] = [];
    const readerA = await system.topic.read("local/events");
    readerA.onMessage((m) => void a.push(m));
    await readerA.start();
    const readerB = await system.topic.read("local/events");
    readerB.onMessage(async (m) => void b.push(m));
    await readerB.start();
    const writer = await system.topic.write("local/events");
    const result = await writer.publish({ type: "login" }, { mode: "wait_all_acks" });
    assert.deepEqual(result, { success: true, delivered: 1, failed: 0, subscriberCount: 1 });
    assert.deepEqual([a, b], [[{ type: "login" }], [{ type: "login" }]]);
    assert.equal((await readerA.stats()).received, 1);
    await readerA.stop();
    await writer.publish("second", { mode: "wait_all_acks" });
    assert.deepEqual([a.length, b], [1, [{ type: "login" }, "second"]]);
    await readerB.stop();
    assert.equal((await writer.publish("nobody")).subscriberCount, 0);
  });

  it("refuses bad input with typed errors", async () => {
    const writer = await system.topic.write("local/bad");
    await assert.rejects(writer.publish(1, { mode: "sometimes" as never }), hasCode("INVALID_OPTION", /mode/));
    await assert.rejects(writer.publish(1, { timeout: 0 }), hasCode("INVALID_OPTION", /timeout/));
    await assert.rejects(system.topic.read(""), hasCode("INVALID_ARGUMENT", /topic name/));
    const reader = await system.topic.read("local/bad");
    assert.throws(() => reader.onMessage("x" as never), hasCode("INVALID_ARGUMENT", /function/));
  });
});

describe("topics on a cluster of three nodes", () => {
  let seed: pul.ActorSystem;
  let others: pul.ActorSystem[];
  before(async () => void ([seed, ...others] = await inProcessCluster(3)));
  after(async () => void (await Promise.all([seed, ...(others ?? [])].map((s) => s?.shutdown()))));

  it("each subscriber gets each message once, in every mode", async () => {
    const got = new Map<string, unknown[]>();
    const readers = await Promise.all(
      others.map(async (system) => {
        const reader = await system.topic.read("cluster/news");
        got.set(system.nodeId, []);
        reader.onMessage((m) => void got.get(system.nodeId)!.push(m));
        await reader.start();
        return reader;
      }),
    );
    const writer = await seed.topic.write("cluster/news");
    await eventually(() => assert.equal(writer.subscribers().length, 2));
    assert.deepEqual(await writer.publish("all", { mode: "wait_all_acks" }), { success: true, delivered: 2, failed: 0, subscriberCount: 2 });
    const any = await writer.publish("any", { mode: "wait_any_ack" });
    assert.equal(any.success, true);
    assert.deepEqual(await writer.publish("best", { mode: "best_effort" }), { success: true, delivered: 2, failed: 0, subscriberCount: 2 });
    const fire = await writer.publish("fire", { mode: "fire_and_forget" });
    assert.deepEqual([fire.success, fire.subscriberCount], [true, 2]);
    await eventually(() => {
      for (const messages of got.values()) assert.deepEqual([...messages].sort(), ["all", "any", "best", "fire"]);
    });
    await Promise.all(readers.map((r) => r.stop()));
    await eventually(() => assert.equal(writer.subscribers().length, 0));
  });

  it("a subscriber that never acknowledges fails at its timeout, and the others are still served", async () => {
    const stuck = await others[0]!.topic.read("cluster/slow");
    stuck.onMessage(() => new Promise(() => {})); // never acknowledges
    await stuck.start();
    const fine = await others[1]!.topic.read("cluster/slow");
    const seen: unknown[] = [];
    fine.onMessage((m) => void seen.push(m));
    await fine.start();
    const writer = await seed.topic.write("cluster/slow");
    await eventually(() => assert.equal(writer.subscribers().length, 2));
    const started = performance.now();
    const all = await writer.publish("m1", { mode: "wait_all_acks", timeout: 500 });
    assert.ok(performance.now() - started < 5_000, "the publish hung");
    assert.deepEqual([all.success, all.delivered, all.failed, all.failedSubscribers], [false, 1, 1, [others[0]!.nodeId]]);
    const any = await writer.publish("m2", { mode: "wait_any_ack", timeout: 500 });
    assert.equal(any.success, true);
    assert.deepEqual(seen, ["m1", "m2"]);
  });
});
