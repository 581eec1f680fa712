/**
 * The cluster's own protocol (`/pulsing/cluster/1.0.0`, src/cluster/cluster-protocol.ts) spoken by a plain js-libp2p
 * peer (test/hostile/raw-client.ts) to real Pulsing nodes: an admitted peer gets a member table, probes and names;
 * a request of another shape, a head report in another's name, a peer that has not passed admission get nothing —
 * and the node goes on serving its members.
 */
import assert from "node:assert/strict";
import type { Connection } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { Counter } from "./fixtures/actors.js";
import { eventually } from "./helpers.js";
import { admit, dialRaw, pack, rawNode, unpack, type RawNode } from "./hostile/raw-client.js";

const CLUSTER_PROTOCOL = "/pulsing/cluster/1.0.0";
const PASSPHRASE = "cluster protocol test";

/** One request, one answer (or the error that ended the stream). */
async function ask(connection: Connection, request: unknown): Promise<{ answer?: unknown; error?: string }> {
  const signal = AbortSignal.timeout(5_000);
  try {
    const stream = await connection.newStream(CLUSTER_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: 1 << 20 });
    await lp.write(pack(request), { signal });
    const answer = unpack((await lp.read({ signal })).subarray());
    await stream.close({ signal }).catch(() => {});
    return { answer };
  } catch (error) {
    return { error: String(error) };
  }
}

const tcpOf = (system: pul.ActorSystem): string => system.addrs.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/") && !a.includes("/ws"))!;

describe("the cluster protocol", () => {
  let seed: pul.ActorSystem;
  let member: pul.ActorSystem;
  let raw: RawNode;
  let admitted: Connection;

  before(async () => {
    seed = await pul.actorSystem({ addr: "127.0.0.1:0", passphrase: PASSPHRASE });
    member = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpOf(seed)], passphrase: PASSPHRASE });
    await member.spawn(Counter, { name: "cluster-protocol/counter" });
    await eventually(() => assert.deepEqual(seed.members().find((m) => m.nodeId === member.nodeId)?.actors, ["cluster-protocol/counter"]));
    raw = await rawNode();
    admitted = await dialRaw(raw, tcpOf(seed));
    await admit(raw.peerId, admitted, PASSPHRASE);
  });

  after(async () => {
    await raw?.stop();
    await member?.shutdown();
    await seed?.shutdown();
  });

  it("hands an admitted peer its member table: members, addresses, names", async () => {
    const { answer, error } = await ask(admitted, { t: "members", cluster: "default" });
    assert.equal(error, undefined);
    const table = answer as Array<{ k: string; id: string; addrs: string[]; names?: Array<[string, number]> }>;
    assert.deepEqual(table.map((m) => m.id).sort(), [seed.nodeId, member.nodeId].sort());
    for (const entry of table) {
      assert.equal(entry.k, "alive");
      assert.ok(entry.addrs.some((a) => a.startsWith("/ip4/127.0.0.1/tcp/")), `addresses of ${entry.id}`);
    }
    assert.deepEqual(table.find((m) => m.id === member.nodeId)?.names?.map(([name]) => name), ["cluster-protocol/counter"]);
  });

  it("answers an anti-entropy request whose hash differs with the whole table, and another cluster's with nothing", async () => {
    const different = await ask(admitted, { t: "members", cluster: "default", hash: "0:0:0" });
    assert.ok(Array.isArray(different.answer) && different.answer.length === 2, JSON.stringify(different));
    const other = await ask(admitted, { t: "members", cluster: "another" });
    assert.deepEqual(other.answer, []);
  });

  it("probes a member on the asker's behalf, and reports an unknown one as not answering", async () => {
    assert.deepEqual(await ask(admitted, { t: "probe", target: member.nodeId, timeoutMs: 2_000 }), { answer: true });
    const nobody = (await rawNode()).peerId.toString();
    assert.deepEqual(await ask(admitted, { t: "probe", target: nobody, timeoutMs: 300 }), { answer: false });
  });

  it("hands out its names, versioned", async () => {
    const { answer } = await ask(admitted, { t: "names" });
    const snapshot = answer as { incarnation: number; version: number; names: unknown[] };
    assert.ok(Number.isSafeInteger(snapshot.incarnation) && Number.isSafeInteger(snapshot.version), JSON.stringify(answer));
    assert.ok(Array.isArray(snapshot.names));
  });

  it("refuses requests of another shape, and head reports to a node that is no head, and goes on serving", async () => {
    for (const bad of [
      "members",
      { t: "bogus" },
      { t: "members" },
      { t: "members", cluster: "x".repeat(10_000) },
      { t: "probe", target: 7, timeoutMs: 100 },
      { t: "probe", target: member.nodeId, timeoutMs: -1 },
      { t: "head", report: { nodeId: member.nodeId } },
      [1, 2, 3],
    ]) {
      const outcome = await ask(admitted, bad);
      assert.equal(outcome.answer, undefined, `${JSON.stringify(bad).slice(0, 80)} was answered: ${JSON.stringify(outcome.answer)}`);
    }
    // the node is fine: its member still calls through it, and it still answers the raw peer
    const counter = await seed.resolve("cluster-protocol/counter");
    assert.equal(await counter.asType(Counter).incr(), 1);
    assert.ok(Array.isArray((await ask(admitted, { t: "members", cluster: "default" })).answer));
  });

  it("gives a peer that has not passed admission no cluster stream", async () => {
    const outsider = await rawNode();
    try {
      const connection = await dialRaw(outsider, tcpOf(seed));
      const outcome = await ask(connection, { t: "members", cluster: "default" });
      assert.equal(outcome.answer, undefined, "an unadmitted peer got a member table");
      assert.ok(outcome.error !== undefined);
    } finally {
      await outsider.stop();
    }
  });
});
