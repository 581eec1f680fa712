/**
 * Worker threads as nodes (`spawnWorkers`, `initInsideWorker`): a worker joins its parent's cluster over a
 * MessagePort; its actors are spawned from the parent, called from the main thread, resolved by name from another
 * node of this process and from another process (through the parent's relay), and a terminated worker is declared
 * dead like any node.
 */
import assert from "node:assert/strict";
import { threadId } from "node:worker_threads";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { spawnWorkers, type WorkerNode } from "pulsing/node";
import { startNode, type ChildNode } from "./cluster/harness.js";
import { Cruncher } from "./fixtures/worker-classes.js";
import { eventually, hasCode } from "./helpers.js";

/** The worker's entry (a .mjs that loads tsx in the worker: Node 20 does not pass the parent's loader hooks on). */
const WORKER = new URL("./fixtures/worker-node.mjs", import.meta.url);

describe("worker threads as nodes", () => {
  let parent: pul.ActorSystem;
  let workers: WorkerNode[];

  before(async () => {
    parent = await pul.actorSystem({ addr: "127.0.0.1:0" });
    workers = await spawnWorkers(2, WORKER, { system: parent });
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.terminate()));
    await parent.shutdown();
  });

  it("starts workers whose nodes are members of the parent's cluster", async () => {
    assert.equal(workers.length, 2);
    assert.notEqual(workers[0]!.nodeId, workers[1]!.nodeId);
    const members = new Map(parent.members().map((m) => [m.nodeId, m.status]));
    for (const w of workers) assert.equal(members.get(w.nodeId), "alive", `worker ${w.nodeId} is an alive member`);
    // A worker has no address of its own: others reach it through its parent's relay.
    await eventually(() => {
      const addrs = parent.members().find((m) => m.nodeId === workers[0]!.nodeId)?.addrs ?? [];
      assert.ok(addrs.length > 0, "the worker announces addresses");
      for (const addr of addrs) assert.match(addr, new RegExp(`/p2p/${parent.nodeId}/p2p-circuit/p2p/${workers[0]!.nodeId}$`));
    });
    // Over the port, not a socket: the parent's connection to a worker is neither TCP nor WebSocket nor relayed.
    const toWorker = parent.connections().find((c) => c.nodeId === workers[0]!.nodeId);
    assert.equal(toWorker?.transport, "other", "the worker is connected over its port");
    assert.equal(toWorker?.relayed, false, "and directly");
  });

  it("runs an actor spawned from the parent in the worker thread, called from the main thread", async () => {
    const ref = await parent.spawn(Cruncher, { node: workers[0]!.nodeId, name: "workers/cruncher" });
    assert.equal(ref.actorId.nodeId, workers[0]!.nodeId);
    const cruncher = ref.asType(Cruncher);
    assert.equal(await cruncher.sum(1_000), 500_500);
    const thread = await cruncher.thread();
    assert.notEqual(thread, threadId, "the actor runs off the main thread");
    assert.deepEqual(await cruncher.echo({ a: [1, 2, 3], b: "x".repeat(100_000) }), { a: [1, 2, 3], b: "x".repeat(100_000) });
    // Many calls in flight over the port at once.
    const sums = await Promise.all(Array.from({ length: 200 }, (_, i) => cruncher.sum(i)));
    assert.deepEqual(sums, Array.from({ length: 200 }, (_, i) => (i * (i + 1)) / 2));
  });

  it("resolves the worker's actor by name from the parent and from another node of this process", async () => {
    const fromParent = (await parent.resolve("workers/cruncher", { timeout: 5_000 })).asType(Cruncher);
    assert.equal(await fromParent.sum(10), 55);
    const other = await pul.actorSystem({ seeds: [parent.addrs[0]!] });
    try {
      // The other node reaches the worker through the parent's relay (the worker has no address of its own).
      const fromOther = (await other.resolve("workers/cruncher", { timeout: 10_000 })).asType(Cruncher);
      assert.equal(await fromOther.sum(100), 5_050);
      assert.notEqual(await fromOther.thread(), threadId);
    } finally {
      await other.shutdown();
    }
  });

  it("is called from another process", async () => {
    let child: ChildNode | undefined;
    try {
      child = await startNode({ seeds: [parent.addrs[0]!] });
      const reply = await child.command({ call: { name: "workers/cruncher", method: "sum", args: [20], timeout: 10_000 } });
      assert.deepEqual(reply.result, 210, `the other process's call answered: ${JSON.stringify(reply)}`);
      assert.equal(reply.nodeId, workers[0]!.nodeId);
    } finally {
      await child?.stop();
    }
  });

  it("calls other nodes' actors from inside the worker", async () => {
    const other = await pul.actorSystem({ seeds: [parent.addrs[0]!] });
    try {
      await other.spawn(Cruncher, { name: "workers/on-other" });
      const cruncher = (await parent.resolve("workers/cruncher")).asType(Cruncher);
      assert.equal(await cruncher.sumOn("workers/on-other", 4), 10);
    } finally {
      await other.shutdown();
    }
  });

  it("declares a terminated worker dead, and calls to its actors fail with NODE_DEAD", async () => {
    const ref = await parent.spawn(Cruncher, { node: workers[1]!.nodeId });
    const cruncher = ref.asType(Cruncher);
    assert.equal(await cruncher.sum(3), 6);
    const down: string[] = [];
    parent.addEventListener("member:down", (event) => down.push((event as CustomEvent<pul.Member>).detail.nodeId));
    await workers[1]!.terminate();
    // As any node that stops answering: within the failure detector's few seconds.
    await eventually(() => assert.ok(down.includes(workers[1]!.nodeId), "member:down for the terminated worker"), 10_000);
    assert.equal(parent.members().find((m) => m.nodeId === workers[1]!.nodeId)?.status, "dead", "declared dead");
    await assert.rejects(cruncher.sum(3), hasCode("NODE_DEAD"));
    // The other worker is unaffected.
    assert.equal(await (await parent.resolve("workers/cruncher")).asType(Cruncher).sum(4), 10);
  });
});

describe("worker threads as nodes: joining", () => {
  it("joins a cluster with a secret (the parent hands it over) and ends with its parent's system", async () => {
    const parent = await pul.actorSystem({ addr: "127.0.0.1:0", passphrase: "worker secret", membership: { cluster: "w" } });
    const workers = await spawnWorkers(1, WORKER, { system: parent });
    try {
      const cruncher = (await parent.spawn(Cruncher, { node: workers[0]!.nodeId })).asType(Cruncher);
      assert.equal(await cruncher.sum(4), 10);
      // Workers end with their parent's system.
      const exited = new Promise((resolve) => workers[0]!.worker.once("exit", resolve));
      await parent.shutdown();
      assert.equal(await Promise.race([exited.then(() => "exited"), new Promise((r) => setTimeout(() => r("running"), 5_000))]), "exited");
    } finally {
      await workers[0]!.terminate();
      await parent.shutdown();
    }
  });

  it("rejects when a worker's module does not join, and when the parent has no network", async () => {
    const parent = await pul.actorSystem({ addr: "127.0.0.1:0" });
    try {
      await assert.rejects(spawnWorkers(1, new URL("data:text/javascript,"), { system: parent }), hasCode("INVALID_STATE", /initInsideWorker/));
    } finally {
      await parent.shutdown();
    }
    const standalone = await pul.actorSystem();
    try {
      await assert.rejects(spawnWorkers(1, WORKER, { system: standalone }), hasCode("INVALID_OPTION", /no network/));
    } finally {
      await standalone.shutdown();
    }
  });
});
