/**
 * Cluster behaviour across real processes: membership over gossipsub, the named registry, failure detection,
 * restarts, head-node mode. This process is the seed; the other nodes are child processes. (Partitions are covered
 * by the simulation, test/membership-sim.test.ts, on its simulated network.)
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { Counter, Failer } from "./fixtures/actors.js";
import { startNode, tcpAddr, type ChildNode } from "./cluster/harness.js";
import { eventually, hasCode } from "./helpers.js";

/** The failure-detection bound the issue sets for loopback, with slack for a loaded 2-core machine. */
const DETECTION_BOUND_MS = 3_000;

async function membersOf(node: ChildNode): Promise<pul.Member[]> {
  return (await node.command({ members: true })).members as pul.Member[];
}

async function statusIn(node: ChildNode, nodeId: string): Promise<string | undefined> {
  return (await membersOf(node)).find((m) => m.nodeId === nodeId)?.status;
}

describe("cluster of processes (gossip membership)", () => {
  let seed: pul.ActorSystem;
  const children: ChildNode[] = [];

  before(async () => {
    seed = await pul.actorSystem({ addr: "127.0.0.1:0" });
    const joined = await Promise.all([0, 1, 2, 3].map(() => startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed)] })));
    children.push(...joined);
  });

  after(async () => {
    await Promise.all(children.map((c) => c.stop()));
    await seed.shutdown();
  });

  it("views converge: every node sees every node alive, with its runtime", async () => {
    const everyone = [seed.nodeId, ...children.map((c) => c.nodeId)].sort();
    await eventually(async () => {
      assert.deepEqual(seed.members().map((m) => m.nodeId).sort(), everyone);
      assert.ok(seed.members().every((m) => m.status === "alive" && m.runtime === "node"), "seed.members().every((m) => m.status === \"alive\" && m.runtime === \"node\")");
      for (const child of children) {
        const view = await membersOf(child);
        assert.deepEqual(view.map((m) => m.nodeId).sort(), everyone);
        assert.ok(view.every((m) => m.status === "alive"), "view.every((m) => m.status === \"alive\")");
      }
    }, 10_000);
  });

  it("resolves an actor on any node from any node, with its name in members()", async () => {
    await children[1]!.command({ spawn: { cls: "Counter", name: "svc/shared", args: [100] } });
    const ref = await seed.resolve("svc/shared", { timeout: 5_000 });
    assert.equal(ref.actorId.nodeId, children[1]!.nodeId);
    assert.equal(await ref.asType(Counter).incr(), 101);
    for (const child of children) {
      const answer = await child.command({ call: { name: "svc/shared", method: "incr", args: [] } });
      assert.equal(answer.nodeId, children[1]!.nodeId);
    }
    const local = await seed.spawn(Counter, { name: "svc/on-seed" });
    for (const child of children) {
      const answer = await child.command({ call: { name: "svc/on-seed", method: "get", args: [] } });
      assert.equal(answer.result, 0);
    }
    await eventually(() => {
      const holder = seed.members().find((m) => m.nodeId === children[1]!.nodeId);
      assert.deepEqual(holder?.actors, ["svc/shared"]);
    });
    await seed.stop(local);
  });

  it("load-balances several instances of a name round-robin; nodeId pins one", async () => {
    await children[2]!.command({ spawn: { cls: "Counter", name: "svc/pool", args: [1_000] } });
    await children[3]!.command({ spawn: { cls: "Counter", name: "svc/pool", args: [2_000] } });
    await eventually(async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) seen.add((await seed.resolve("svc/pool")).actorId.nodeId);
      assert.deepEqual([...seen].sort(), [children[2]!.nodeId, children[3]!.nodeId].sort());
    });
    const picks = [];
    for (let i = 0; i < 6; i++) picks.push((await seed.resolve("svc/pool")).actorId.nodeId);
    assert.notEqual(picks[0], picks[1]);
    assert.equal(picks[0], picks[2]);
    const pinned = await seed.resolve("svc/pool", { nodeId: children[3]!.nodeId });
    assert.equal(pinned.actorId.nodeId, children[3]!.nodeId);
    assert.ok((await pinned.asType(Counter).get()) >= 2_000, "(await pinned.asType(Counter).get()) >= 2_000");
  });

  it("a killed node is declared dead everywhere within the bound; its names go; calls to it fail fast", async () => {
    const victim = await startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed)] });
    await victim.command({ spawn: { cls: "Failer", name: "svc/victim" } });
    await eventually(async () => {
      for (const child of children) assert.equal(await statusIn(child, victim.nodeId), "alive");
      assert.ok(await seed.hasActor("svc/victim"), "await seed.hasActor(\"svc/victim\")");
    }, 10_000);
    const ref = await seed.resolve("svc/victim");
    const pending = assert.rejects(ref.asType(Failer).slow(30_000), pul.PulsingRuntimeError);
    const downEvent = new Promise<number>((resolve) =>
      seed.addEventListener("member:down", (e) => {
        if ((e as CustomEvent<pul.Member>).detail.nodeId === victim.nodeId) resolve(Date.now());
      }),
    );
    const killedAt = Date.now();
    await victim.kill();
    await pending;
    const downAt = await downEvent;
    assert.ok(downAt - killedAt <= DETECTION_BOUND_MS, `declared dead after ${downAt - killedAt} ms`);
    await eventually(async () => {
      for (const child of children) assert.equal(await statusIn(child, victim.nodeId), "dead");
    }, DETECTION_BOUND_MS);
    assert.ok(Date.now() - killedAt <= DETECTION_BOUND_MS + 1_000, "not every node declared it dead in time");
    assert.equal(await seed.hasActor("svc/victim"), false);
    await assert.rejects(seed.resolve("svc/victim"), hasCode("ACTOR_NOT_FOUND"));
    const t = Date.now();
    await assert.rejects(ref.asType(Failer).alive(), hasCode("NODE_DEAD"));
    assert.ok(Date.now() - t < 500, "a call to a dead node should fail at once");
  });

  it("a restarted node rejoins: alive again and its names resolvable", async () => {
    const { generateKeyPair, privateKeyToProtobuf } = await import("@libp2p/crypto/keys");
    const privateKeyHex = Buffer.from(privateKeyToProtobuf(await generateKeyPair("Ed25519"))).toString("hex");
    const first = await startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed)], privateKeyHex });
    await first.command({ spawn: { cls: "Counter", name: "svc/phoenix", args: [1] } });
    await eventually(async () => assert.ok(await seed.hasActor("svc/phoenix"), "await seed.hasActor(\"svc/phoenix\")"), 10_000);
    await first.kill();
    await eventually(() => assert.equal(seed.members().find((m) => m.nodeId === first.nodeId)?.status, "dead"), DETECTION_BOUND_MS + 1_000);
    const again = await startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed)], privateKeyHex });
    assert.equal(again.nodeId, first.nodeId);
    await again.command({ spawn: { cls: "Counter", name: "svc/phoenix", args: [50] } });
    await eventually(() => assert.equal(seed.members().find((m) => m.nodeId === again.nodeId)?.status, "alive"), 10_000);
    const ref = await seed.resolve("svc/phoenix", { timeout: 5_000 });
    assert.equal(await ref.asType(Counter).incr(), 51);
    await again.stop();
  });

  it("a graceful leave is seen at once (no failure detection needed)", async () => {
    const leaver = await startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed)] });
    await eventually(() => assert.equal(seed.members().find((m) => m.nodeId === leaver.nodeId)?.status, "alive"), 10_000);
    const t = Date.now();
    await leaver.stop();
    await eventually(() => assert.equal(seed.members().find((m) => m.nodeId === leaver.nodeId)?.status, "dead"), 1_000);
    assert.ok(Date.now() - t < 1_500, "Date.now() - t < 1_500");
  });

  it("emits member:up / member:suspect / member:down", async () => {
    const events: Array<[string, string]> = [];
    for (const type of ["member:up", "member:suspect", "member:down"]) {
      seed.addEventListener(type, (e) => events.push([type, (e as CustomEvent<pul.Member>).detail.nodeId]));
    }
    const probe = await startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed)] });
    const of = () => events.filter(([, nodeId]) => nodeId === probe.nodeId).map(([type]) => type);
    await eventually(() => assert.deepEqual(of(), ["member:up"]), 10_000);
    await probe.kill();
    await eventually(() => assert.deepEqual(of(), ["member:up", "member:suspect", "member:down"]), DETECTION_BOUND_MS + 1_000);
  });
});

describe("head-node mode", () => {
  let head: pul.ActorSystem;
  const workers: ChildNode[] = [];

  before(async () => {
    head = await pul.actorSystem({ addr: "127.0.0.1:0", isHeadNode: true });
    workers.push(...(await Promise.all([0, 1, 2].map(() => startNode({ addr: "127.0.0.1:0", headAddr: tcpAddr(head) })))));
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await head.shutdown();
  });

  it("workers register with the head and share its view and registry", async () => {
    const everyone = [head.nodeId, ...workers.map((w) => w.nodeId)].sort();
    await workers[0]!.command({ spawn: { cls: "Counter", name: "head/counter", args: [10] } });
    await eventually(async () => {
      assert.deepEqual(head.members().map((m) => m.nodeId).sort(), everyone);
      for (const worker of workers) {
        const view = await membersOf(worker);
        assert.deepEqual(view.map((m) => m.nodeId).sort(), everyone);
      }
    }, 10_000);
    const answer = await workers[2]!.command({ call: { name: "head/counter", method: "incr", args: [] } });
    assert.equal(answer.result, 11);
    assert.equal(answer.nodeId, workers[0]!.nodeId);
    assert.equal(await (await head.resolve("head/counter")).asType(Counter).incr(), 12);
    await head.spawn(Counter, { name: "head/on-head" });
    const onHead = await workers[1]!.command({ call: { name: "head/on-head", method: "get", args: [], timeout: 5_000 } });
    assert.equal(onHead.nodeId, head.nodeId);
  });

  it("the head declares a killed worker dead and the others learn it", async () => {
    const doomed = workers.pop()!;
    await doomed.command({ spawn: { cls: "Counter", name: "head/doomed" } });
    await eventually(async () => assert.ok(await head.hasActor("head/doomed"), "await head.hasActor(\"head/doomed\")"), 10_000);
    const t = Date.now();
    await doomed.kill();
    await eventually(() => assert.equal(head.members().find((m) => m.nodeId === doomed.nodeId)?.status, "dead"), DETECTION_BOUND_MS);
    assert.ok(Date.now() - t <= DETECTION_BOUND_MS, "Date.now() - t <= DETECTION_BOUND_MS");
    assert.equal(await head.hasActor("head/doomed"), false);
    await eventually(async () => assert.equal(await statusIn(workers[0]!, doomed.nodeId), "dead"), DETECTION_BOUND_MS);
  });
});
