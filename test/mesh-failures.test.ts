/**
 * Failures of the mesh between real processes over loopback: peers killed (SIGKILL) or stopped (GOAWAY) while
 * calls and streams are in flight, peers that come back under the same identity, and streaming backpressure
 * across the wire.
 */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { generateKeyPair, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import * as pul from "pulsing";
import { startNode, tcpAddr, type ChildNode } from "./cluster/harness.js";
import { Failer, Producer } from "./fixtures/actors.js";
import { eventually, sleep } from "./helpers.js";

/** How soon after a peer dies its pending calls must fail. */
const PROMPT_MS = 2_000;

const isRuntimeError = (error: unknown): boolean => {
  assert.ok(error instanceof pul.PulsingRuntimeError, `expected a PulsingRuntimeError, got ${String(error)}`);
  return true;
};

interface Outcome<T> {
  /** When it settled (Date.now()). */
  at: number;
  /** How long it took from the call to `settle()`. */
  ms: number;
  error: unknown;
  value: T | undefined;
}

/**
 * Observes a promise at once (so a rejection is never unhandled, however long the test waits before looking)
 * and records when and how it settled.
 */
async function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  const start = Date.now();
  try {
    const value = await promise;
    return { at: Date.now(), ms: Date.now() - start, error: undefined, value };
  } catch (error) {
    return { at: Date.now(), ms: Date.now() - start, error, value: undefined };
  }
}

/** A TCP port free right now on 127.0.0.1, with its WebSocket neighbour (`port + 1`) free too. */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await listenOnce(0);
    if (port < 65_535 && (await listenOnce(port + 1).then(() => true, () => false))) return port;
  }
  throw new Error("no free port pair found");
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

describe("mesh failures between processes", () => {
  let parent: pul.ActorSystem;
  const children = new Set<ChildNode>();

  const startChild = async (options: Parameters<typeof startNode>[0] = {}): Promise<ChildNode> => {
    const child = await startNode({ seeds: [tcpAddr(parent)], ...options });
    children.add(child);
    return child;
  };

  const spawnOn = async <C extends pul.ActorClass>(child: ChildNode, cls: C, options: pul.SpawnOptions = {}) =>
    (await parent.spawn(cls, { ...options, node: child.nodeId })).asType(cls) as pul.ActorProxy<InstanceType<C>>;

  before(async () => {
    parent = await pul.actorSystem({ addr: "127.0.0.1:0" });
  });

  after(async () => {
    await Promise.allSettled([...children].map((child) => child.kill()));
    await parent?.shutdown();
  });

  it("fails a pending call promptly when the peer is killed mid-call", async () => {
    const child = await startChild();
    const failer = await spawnOn(child, Failer);
    assert.equal(await failer.alive(), "alive"); // the call stream is open
    const pending = settle(failer.slow(10_000));
    await sleep(50); // let the call reach the actor
    const killedAt = Date.now();
    await child.kill();
    const outcome = await pending;
    const sinceKill = outcome.at - killedAt;
    assert.equal(outcome.value, undefined, "the call must not succeed");
    isRuntimeError(outcome.error);
    assert.ok(
      ["CONNECTION_LOST", "NODE_UNREACHABLE", "NODE_DEAD"].includes((outcome.error as pul.PulsingRuntimeError).code),
      `a lost, unreachable or dead node: ${String(outcome.error)}`,
    );
    assert.ok(sinceKill < PROMPT_MS, `the call failed ${sinceKill} ms after the kill`);
  });

  it("fails a stream promptly when the producing peer is killed mid-stream", async () => {
    const child = await startChild();
    const producer = await spawnOn(child, Producer);
    const seen: number[] = [];
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    const outcome = await settle(
      (async () => {
        for await (const n of producer.slow(1_000, 20)) {
          seen.push(n);
          if (seen.length === 3) {
            killedAt = Date.now();
            killing = child.kill();
          }
        }
      })(),
    );
    await killing;
    const sinceKill = outcome.at - killedAt;
    assert.ok(seen.length >= 3, `read ${seen.length} items before the kill`);
    assert.ok(seen.length < 1_000, "the stream must not complete");
    assert.deepEqual(seen, seen.map((_, i) => i));
    isRuntimeError(outcome.error);
    assert.ok(sinceKill < PROMPT_MS, `the stream failed ${sinceKill} ms after the kill`);
  });

  it("fails every one of 200 pending calls when the peer is killed", async () => {
    const child = await startChild();
    const failer = await spawnOn(child, Failer);
    assert.equal(await failer.alive(), "alive");
    const pending = Array.from({ length: 200 }, () => settle(failer.slow(10_000)));
    // All 200 are at the actor (async, unlimited concurrency) once a later call has been answered.
    assert.equal(await failer.alive(), "alive");
    assert.equal(parent.mesh!.link(child.nodeId).pendingCalls, 200);
    const killedAt = Date.now();
    await child.kill();
    const outcomes = await Promise.all(pending);
    const sinceKill = Math.max(...outcomes.map((o) => o.at)) - killedAt;
    assert.equal(outcomes.filter((o) => o.error === undefined).length, 0, "no call may succeed");
    for (const outcome of outcomes) isRuntimeError(outcome.error);
    assert.ok(sinceKill < PROMPT_MS, `the last call failed ${sinceKill} ms after the kill`);
    assert.equal(parent.mesh!.link(child.nodeId).pendingCalls, 0, "no call is left in the pending table");
  });

  it("fails the next call to a killed peer fast (cannot reach), without hanging", async () => {
    const child = await startChild();
    const failer = await spawnOn(child, Failer);
    assert.equal(await failer.alive(), "alive");
    await child.kill();
    // Whether or not the loss has been noticed yet, a call now must fail, and soon.
    for (let i = 0; i < 3; i++) {
      const outcome = await settle(failer.alive());
      assert.equal(outcome.value, undefined);
      isRuntimeError(outcome.error);
      assert.ok(outcome.ms < 3_000, `call ${i} took ${outcome.ms} ms to fail`);
    }
    // It says the node cannot be reached (or, once membership has noticed, that it is dead).
    const last = await settle(failer.alive());
    const message = (last.error as Error).message;
    const code = (last.error as pul.PulsingRuntimeError).code;
    assert.ok(code === "NODE_UNREACHABLE" || code === "NODE_DEAD", `unreachable or dead: ${code} ${message}`);
    assert.ok(message.includes(child.nodeId), message);
  });

  it("reaches a peer again once it restarts with the same key and address", async () => {
    const key = privateKeyToProtobuf(await generateKeyPair("Ed25519"));
    const privateKeyHex = Buffer.from(key).toString("hex");
    const port = await freePort();
    const options = { addr: `127.0.0.1:${port}`, privateKeyHex };
    const first = await startNode(options);
    children.add(first);
    // The caller joins through the peer (it dials it), so it knows where to find it again.
    const caller = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpAddr(first)] });
    try {
      const spawned = await first.command({ spawn: { cls: "Failer", name: "phoenix" } });
      const actorId = spawned.spawned as string;
      assert.ok(actorId.startsWith(`${first.nodeId}:`), "actorId.startsWith(`${first.nodeId}:`)");
      const failer = (await caller.refer(actorId)).asType(Failer);
      assert.equal(await failer.alive(), "alive");

      await first.kill();
      const down = await settle(failer.alive());
      isRuntimeError(down.error);
      assert.ok(down.ms < 3_000, `a call to the dead peer took ${down.ms} ms to fail`);

      const second = await startNode(options);
      children.add(second);
      assert.equal(second.nodeId, first.nodeId, "same key, same node id");
      assert.ok(second.addrs.some((a) => a.includes(`/tcp/${port}/`)), `listens on ${port} again: ${second.addrs.join(", ")}`);
      const respawned = await second.command({ spawn: { cls: "Failer", name: "phoenix" } });
      assert.equal(respawned.spawned, actorId, "the first actor of a fresh node gets the same id");

      // The same ref, held across the restart: the caller dials the peer again and the call goes through.
      await eventually(async () => assert.equal(await failer.withOptions({ timeout: 2_000 }).alive(), "alive"), 15_000, 100);
      assert.equal(await failer.slow(1), "done");
      await second.stop();
    } finally {
      await caller.shutdown();
    }
  });

  it("fails pending calls promptly, saying the peer is going, when it stops gracefully", async () => {
    const child = await startChild();
    const failer = await spawnOn(child, Failer);
    assert.equal(await failer.alive(), "alive");
    const pending = [settle(failer.slow(10_000)), settle(failer.slow(10_000))];
    assert.equal(await failer.alive(), "alive");
    const stoppedAt = Date.now();
    const stopping = child.stop();
    const outcomes = await Promise.all(pending);
    const sinceStop = Math.max(...outcomes.map((o) => o.at)) - stoppedAt;
    await stopping;
    assert.equal(child.process.exitCode, 0, "the child shut down cleanly");
    for (const outcome of outcomes) {
      assert.equal(outcome.value, undefined, "no call may succeed");
      const error = outcome.error as Error;
      isRuntimeError(error);
      // Whichever comes first: the peer's GOAWAY ("… is shutting down") or its membership leave ("… left the cluster").
      const code = (error as pul.PulsingRuntimeError).code;
      assert.ok(code === "SHUTDOWN" || code === "NODE_DEAD", `shutting down or left: ${code} ${error.message}`);
      assert.match(error.message, new RegExp(child.nodeId));
    }
    assert.ok(sinceStop < PROMPT_MS, `the calls failed ${sinceStop} ms after stop()`);
  });

  it("keeps a remote stream within its credit window while the reader pauses (bounded memory both sides)", async () => {
    const child = await startChild();
    const producer = await spawnOn(child, Producer);
    const bufferSize = 16;
    const slack = 2;
    const stream = producer.withOptions({ bufferSize }).numbers(10_000_000);
    const iterator = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 5; i++) assert.deepEqual(await iterator.next(), { value: i, done: false });

    // The reader stops. Without backpressure the producer would race through millions of items.
    const heapBefore = process.memoryUsage().heapUsed;
    const samples: number[] = [];
    for (let i = 0; i < 6; i++) {
      await sleep(50);
      samples.push((await producer.counters()).produced);
    }
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    assert.ok(samples.every((n) => n >= 5 && n <= bufferSize + slack), `produced during the pause: ${samples.join(", ")}`);
    assert.equal(samples[samples.length - 1], samples[0], "production stands still while nobody reads");
    assert.ok(heapGrowth < 16 * 1024 * 1024, `the caller's heap grew by ${heapGrowth} bytes during the pause`);

    // Reading again resumes production, still bounded by what was read plus the window.
    let read = 5;
    for (; read < 200; read++) assert.deepEqual(await iterator.next(), { value: read, done: false });
    const { produced } = await producer.counters();
    assert.ok(produced >= read && produced <= read + bufferSize + slack, `produced ${produced} after reading ${read}`);

    // Stopping the reader runs the generator's finally on the remote node.
    await iterator.return!();
    await eventually(async () => assert.equal((await producer.counters()).finalized, 1));
  });
});
