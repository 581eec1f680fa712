/**
 * Issue 9, continued (see unknown-node.test.ts), in a cluster with a secret: nodes found through
 * `/pulsing/find-node/1.0.0` (answered to admitted peers only), actor refs whose address hint is all a node has to
 * reach another, and a head-node worker's init() holding the head's view. Real processes plus systems in this one.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { noise } from "@libp2p/noise";
import { tcp } from "@libp2p/tcp";
import { lpStream } from "@libp2p/utils";
import { yamux } from "@libp2p/yamux";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import * as pul from "pulsing";
import { FIND_NODE_PROTOCOL } from "../src/transport/find-node.js";
import { decode, encode } from "../src/wire/codec.js";
import { Counter, Finder } from "./fixtures/actors.js";
import { startNode, tcpAddr, type ChildNode } from "./cluster/harness.js";
import { eventually } from "./helpers.js";

const LOOPBACK = "127.0.0.1:0";
const SECRET = "find-node secret";

async function memberIds(node: ChildNode): Promise<string[]> {
  return ((await node.command({ members: true })).members as pul.Member[]).map((m) => m.nodeId);
}

async function spawnCounter(node: ChildNode): Promise<string> {
  const answer = await node.command({ spawn: { cls: "Counter", args: [41] } });
  assert.equal(typeof answer.spawned, "string", `spawn answered ${JSON.stringify(answer)}`);
  return answer.spawned as string;
}

let head: ChildNode;
/** The protected cluster's seed (default cluster). */
let seed: ChildNode;
/** A node of another cluster ("b": same network and secret, another membership topic), joined through the seed. */
let x: ChildNode;
/** Another node of cluster "b", joined through x only. */
let d: ChildNode;
/** A node of the default cluster in this process, joined through the seed. */
let here: pul.ActorSystem;
const systems: pul.ActorSystem[] = [];

before(async () => {
  [head, seed] = await Promise.all([startNode({ addr: LOOPBACK, isHeadNode: true }), startNode({ addr: LOOPBACK, passphrase: SECRET })]);
  x = await startNode({ addr: LOOPBACK, seeds: [tcpAddr(seed)], passphrase: SECRET, membership: { cluster: "b" } });
  [d, here] = await Promise.all([
    startNode({ addr: LOOPBACK, seeds: [tcpAddr(x)], passphrase: SECRET, membership: { cluster: "b" } }),
    pul.actorSystem({ addr: LOOPBACK, seeds: [tcpAddr(seed)], passphrase: SECRET }),
  ]);
  systems.push(here);
});

after(async () => {
  await Promise.all(systems.map((s) => s.shutdown()));
  await Promise.all([head, seed, x, d].map((node) => node?.stop()));
});

describe("nodes outside this node's membership", () => {
  it("a node of another cluster is found through connected peers (find-node)", async () => {
    // Members of the default cluster never learn of x; only the seed it dialed knows its addresses.
    const actorId = await spawnCounter(x);
    const started = performance.now();
    const ref = await here.refer(actorId);
    assert.equal(await ref.asType(Counter).incr(), 42);
    const ms = performance.now() - started;
    assert.ok(!here.members().some((m) => m.nodeId === x.nodeId), "x is not a member here");
    assert.ok(!(await memberIds(seed)).includes(x.nodeId), "nor at the seed (it pulled nothing across clusters)");
    console.log(`node found through find-node: first call ${ms.toFixed(1)} ms`);
  });

  it("a ref from a node this node cannot learn of otherwise is callable (the ref's address hint)", async () => {
    // This node gets a ref to d's actor from x, then x goes away: no peer of this node knows d any more (the seed
    // never did), only the ref does.
    await d.command({ spawn: { cls: "Counter", name: "b/target", args: [41] } });
    const finderId = (await x.command({ spawn: { cls: "Finder" } })).spawned as string;
    const finder = (await here.refer(finderId)).asType(Finder);
    const target = (await finder.find("b/target")) as unknown as pul.ActorRef;
    assert.ok(target instanceof pul.ActorRef, `find() returned ${String(target)}`);
    assert.equal(target.actorId.nodeId, d.nodeId);
    await x.kill();
    await eventually(() => {
      assert.equal(here.connections().filter((conn) => conn.nodeId === x.nodeId).length, 0, "the connection to x is gone");
    }, 10_000);
    assert.ok(!here.members().some((m) => m.nodeId === d.nodeId), "d is not a member here");
    const started = performance.now();
    assert.equal(await target.asType(Counter).incr(), 42);
    console.log(`ref with an address hint: first call ${(performance.now() - started).toFixed(1)} ms`);
  });
});

describe("find-node serves admitted peers only", () => {
  it("a peer that has not passed admission learns nothing: its question is dropped, not answered", async () => {
    // A bare libp2p node (noise, yamux, no admission) asks the seed where a member (this process's node) is.
    const raw = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
    try {
      const connection = await raw.dial(multiaddr(tcpAddr(seed)), { signal: AbortSignal.timeout(10_000) });
      const asked = performance.now();
      let answer: unknown = "no answer";
      try {
        const stream = await connection.newStream(FIND_NODE_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
        const lp = lpStream(stream, { maxDataLength: 4_096 });
        await lp.write(encode({ id: here.nodeId }));
        answer = decode((await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray());
      } catch {
        // aborted by the answerer once admission failed (or the connection closed): what we expect
      }
      assert.equal(answer, "no answer", `an unadmitted peer got an answer: ${JSON.stringify(answer)}`);
      assert.ok(performance.now() - asked < 9_000, "the question was dropped (admission timed out), not left hanging");
    } finally {
      await raw.stop();
    }
  });
});

describe("init() in head-node mode holds the head's view", () => {
  it("a worker's init() registers it with the head, and its members() right after init() holds the head's view", async () => {
    const first = await pul.actorSystem({ addr: LOOPBACK, headAddr: tcpAddr(head) });
    systems.push(first);
    assert.ok((await memberIds(head)).includes(first.nodeId), "the head knows the first worker once its init() returned");
    const second = await pul.actorSystem({ addr: LOOPBACK, headAddr: tcpAddr(head) });
    systems.push(second);
    const mine = second.members().map((m) => m.nodeId);
    assert.ok(mine.includes(first.nodeId), `members() right after init(): ${mine.join(", ")}`);
    assert.ok(mine.includes(head.nodeId), "and the head");
  });
});
