/**
 * The cluster's own protocol (`/pulsing/cluster/1.0.0`, src/cluster/cluster-protocol.ts) spoken by a plain js-libp2p
 * peer (test/hostile/raw-client.ts) to real Pulsing nodes: an admitted peer gets a member table, probes (indirect ones,
 * and direct ones on `/pulsing/cluster/probe/1.0.0`), names and spawns; a request of another shape or a head report to a node that is no head gets a typed refusal (an error value
 * with its code), a peer that has not passed admission gets nothing — and the node goes on serving its members.
 */
import assert from "node:assert/strict";
import type { Connection } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { Counter } from "./fixtures/actors.js";
import { eventually } from "./helpers.js";
import { admit, dialRaw, pack, PulsingExt, rawNode, unpack, type RawNode } from "./hostile/raw-client.js";

const CLUSTER_PROTOCOL = "/pulsing/cluster/1.0.0";
const PROBE_PROTOCOL = "/pulsing/cluster/probe/1.0.0";
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

/** The error an answer carries (the codec's error extension, 0x02: `{ n: class, m: message, f: { code } }`), if it is one. */
function refusal(outcome: { answer?: unknown }): { n: string; m: string; f?: { code?: string } } | undefined {
  const { answer } = outcome;
  return answer instanceof PulsingExt && answer.type === 0x02 ? (answer.value as { n: string; m: string; f?: { code?: string } }) : undefined;
}

/** Asserts `request` is refused with a `PulsingRuntimeError` of `code`, and returns its message. */
async function assertRefused(connection: Connection, request: unknown, code: string): Promise<string> {
  const outcome = await ask(connection, request);
  const error = refusal(outcome);
  const what = JSON.stringify(request).slice(0, 80);
  assert.ok(error !== undefined, `${what} was not refused: ${JSON.stringify(outcome)}`);
  assert.equal(error.n, "PulsingRuntimeError", `${what}: ${error.n}: ${error.m}`);
  assert.equal(error.f?.code, code, `${what}: ${error.m}`);
  return error.m;
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
    // A fraction of a millisecond (a timeout stretched by a lag multiplier): AbortSignal.timeout throws on one, and
    // every such probe failed at once.
    assert.deepEqual(await ask(admitted, { t: "probe", target: member.nodeId, timeoutMs: 1_234.567 }), { answer: true });
    const nobody = (await rawNode()).peerId.toString();
    assert.deepEqual(await ask(admitted, { t: "probe", target: nobody, timeoutMs: 300 }), { answer: false });
  });

  it("echoes direct probes on one stream kept open, and ends a stream that sends a frame over 8 bytes", async () => {
    const signal = AbortSignal.timeout(5_000);
    const stream = await admitted.newStream(PROBE_PROTOCOL, { signal });
    const lp = lpStream(stream, { maxDataLength: 64 });
    for (let seq = 1; seq <= 20; seq++) {
      const body = new Uint8Array(4);
      new DataView(body.buffer).setUint32(0, seq * 1_000_003);
      await lp.write(body, { signal });
      assert.deepEqual([...(await lp.read({ signal })).subarray()], [...body], `echo of probe ${seq}`);
    }
    // Several in flight at once come back in order.
    const bodies = [7, 8, 9].map((n) => new Uint8Array([0, 0, 0, n]));
    for (const body of bodies) await lp.write(body, { signal });
    for (const body of bodies) assert.deepEqual([...(await lp.read({ signal })).subarray()], [...body]);
    assert.equal(admitted.streams.filter((s) => s.protocol === PROBE_PROTOCOL).length, 1, "one probe stream for all of them");
    await lp.write(new Uint8Array(9), { signal });
    await assert.rejects(lp.read({ signal }), "a frame over 8 bytes did not end the probe stream");
    // The node goes on answering probes, on a new stream.
    const again = lpStream(await admitted.newStream(PROBE_PROTOCOL, { signal }), { maxDataLength: 64 });
    await again.write(new Uint8Array([1, 2, 3, 4]), { signal });
    assert.deepEqual([...(await again.read({ signal })).subarray()], [1, 2, 3, 4]);
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
      [1, 2, 3],
    ]) {
      await assertRefused(admitted, bad, "PROTOCOL_ERROR");
    }
    await assertRefused(admitted, { t: "head", report: { nodeId: member.nodeId } }, "UNSUPPORTED");
    // the node is fine: its member still calls through it, and it still answers the raw peer
    const counter = await seed.resolve("cluster-protocol/counter");
    assert.equal(await counter.asType(Counter).incr(), 1);
    assert.ok(Array.isArray((await ask(admitted, { t: "members", cluster: "default" })).answer));
  });

  it("refuses a malformed spawn request with a typed error, spawns nothing, and goes on serving", async () => {
    const actorsBefore = (await (await pul.getSystemActor(seed)).listActors()).length;
    for (const [bad, why] of [
      [{ t: "spawn", className: 42, options: {} }, /className/],
      [{ t: "spawn", options: {} }, /className/],
      [{ t: "spawn", className: "x".repeat(257), options: {} }, /className/],
      [{ t: "spawn", className: "Counter", options: { node: member.nodeId } }, /unknown option 'node'/],
      [{ t: "spawn", className: "Counter", options: { signal: {} } }, /unknown option 'signal'/],
      [{ t: "spawn", className: "Counter", options: { name: "cluster-protocol/x", restart_policy: "always" } }, /unknown option 'restart_policy'/],
      [{ t: "spawn", className: "Counter", options: { concurrency: 0 } }, /'concurrency'/],
      [{ t: "spawn", className: "Counter", options: { args: "41" } }, /'args'/],
      [{ t: "spawn", className: "Counter", options: [41] }, /plain object/],
    ] as const) {
      assert.match(await assertRefused(admitted, bad, "PROTOCOL_ERROR"), why);
    }
    assert.equal((await (await pul.getSystemActor(seed)).listActors()).length, actorsBefore, "a refused spawn spawned nothing");
    // A well-formed one is served: the actor runs on the node and is callable.
    const { answer } = await ask(admitted, { t: "spawn", className: "Counter", options: { name: "cluster-protocol/spawned", args: [41] } });
    const spawned = answer as { actorId: string; name?: string };
    assert.ok(spawned.actorId.startsWith(`${seed.nodeId}:`), JSON.stringify(answer));
    assert.equal(spawned.name, "cluster-protocol/spawned");
    assert.equal(await (await member.resolve("cluster-protocol/spawned", { timeout: 5_000 })).asType(Counter).incr(), 42);
    // Failures of the spawn itself come back with their codes.
    await assertRefused(admitted, { t: "spawn", className: "NoSuchClass", options: {} }, "CLASS_NOT_REGISTERED");
    await assertRefused(admitted, { t: "spawn", className: "Counter", options: { name: "cluster-protocol/spawned" } }, "NAME_TAKEN");
    // The node is fine.
    assert.equal(await (await seed.resolve("cluster-protocol/counter")).asType(Counter).incr(), 2);
    assert.ok(Array.isArray((await ask(admitted, { t: "members", cluster: "default" })).answer));
  });

  it("gives a peer that has not passed admission no cluster stream", async () => {
    const outsider = await rawNode();
    try {
      const connection = await dialRaw(outsider, tcpOf(seed));
      const outcome = await ask(connection, { t: "members", cluster: "default" });
      assert.equal(outcome.answer, undefined, "an unadmitted peer got a member table");
      assert.ok(outcome.error !== undefined);
      // Nor an echo of a probe.
      const echoed = (async () => {
        const signal = AbortSignal.timeout(3_000);
        const lp = lpStream(await connection.newStream(PROBE_PROTOCOL, { signal }), { maxDataLength: 64 });
        await lp.write(new Uint8Array([0, 0, 0, 1]), { signal });
        return (await lp.read({ signal })).subarray();
      })();
      await assert.rejects(echoed, "an unadmitted peer's probe was echoed");
    } finally {
      await outsider.stop();
    }
  });
});
