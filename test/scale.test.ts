/**
 * Scale: 51 nodes on real loopback TCP — this process's seed plus five processes of ten nodes each (every one a
 * full node: libp2p, noise, admission, gossipsub membership, RPC, a named actor). They join through the seed,
 * converge to a full view and a complete registry, then detect a node that dies without leaving.
 *
 * Fifty nodes share two cores here, so they run with slower membership timings than the defaults (which assume
 * a core per node): verifying every member's signed heartbeats and the transport's framing cost a few percent of a
 * core per node at 500 ms heartbeats — fifty of them exceed this machine, and an overloaded event loop measures
 * overload, not the cluster. (Fifty nodes in a single process saturate it even at 2 s heartbeats.)
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as pul from "pulsing";
import { eventually } from "./helpers.js";

const PROCESSES = 5;
const PER_PROCESS = 10;
const TIMINGS: pul.MembershipOptions = {
  heartbeatInterval: 2_000,
  suspectAfter: 8_000,
  probeTimeout: 2_000,
  suspicionTimeout: 4_000,
  targetPeers: 4,
};
const CHILD = fileURLToPath(new URL("./cluster/multi-node.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

interface Host {
  process: ChildProcess;
  nodeIds: string[];
  ask(command: unknown): Promise<Record<string, unknown>>;
}

async function startHost(seeds: string[], prefix: string): Promise<Host> {
  const child = spawn(
    process.execPath,
    ["--conditions=pulsing-source", "--import", "tsx", CHILD, JSON.stringify({ count: PER_PROCESS, seeds, membership: TIMINGS, prefix })],
    { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] },
  );
  const waiters: Array<(line: Record<string, unknown>) => void> = [];
  let buffered = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        waiters.shift()?.(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not ours
      }
    }
  });
  const next = (ms: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node host ${prefix} did not answer in ${ms} ms`)), ms);
      waiters.push((line) => (clearTimeout(timer), resolve(line)));
    });
  const ready = await next(120_000);
  return {
    process: child,
    nodeIds: ready.ready as string[],
    ask: (command) => {
      const reply = next(30_000);
      child.stdin!.write(`${JSON.stringify(command)}\n`);
      return reply;
    },
  };
}

describe(`a cluster of ${1 + PROCESSES * PER_PROCESS} nodes`, () => {
  let seed: pul.ActorSystem | undefined;
  const hosts: Host[] = [];
  after(async () => {
    for (const host of hosts) host.process.kill("SIGKILL");
    await seed?.shutdown();
  });

  it("converges to a full view and a correct registry, then detects a killed node", async () => {
    const started = Date.now();
    seed = await pul.actorSystem({ addr: "127.0.0.1:0", membership: TIMINGS });
    const seedAddr = seed.addrs.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/") && !a.includes("/ws"))!;
    for (let p = 0; p < PROCESSES; p++) hosts.push(await startHost([seedAddr], `scale/p${p}-`));
    const everyone = [seed.nodeId, ...hosts.flatMap((h) => h.nodeIds)].sort();
    const names = hosts.flatMap((_, p) => Array.from({ length: PER_PROCESS }, (_, i) => `scale/p${p}-${i}`)).sort();

    await eventually(
      async () => {
        assert.deepEqual(seed!.members().filter((m) => m.status === "alive").map((m) => m.nodeId).sort(), everyone);
        assert.deepEqual(seed!.members().flatMap((m) => m.actors).sort(), names);
        for (const host of hosts) {
          for (const [nodeId, alive, seen] of (await host.ask({ views: true })).views as Array<[string, string[], string[]]>) {
            assert.deepEqual(alive, everyone, `the view of ${nodeId}`);
            assert.deepEqual(seen, names, `the registry of ${nodeId}`);
          }
        }
      },
      180_000,
      1_000,
    );
    const converged = Date.now() - started;

    // Any node's actor is resolvable and callable from the seed.
    const ref = await seed.resolve("scale/p3-7");
    assert.equal(ref.actorId.nodeId, hosts[3]!.nodeIds[7]);
    assert.equal(await ref.asAny().get(), 7);

    // A node dies without a goodbye.
    const killedAt = Date.now();
    const victim = (await hosts[2]!.ask({ kill: 4 })).killed as string;
    await eventually(
      async () => {
        assert.equal(seed!.members().find((m) => m.nodeId === victim)?.status, "dead");
        for (const host of hosts) {
          for (const [nodeId, alive] of (await host.ask({ views: true })).views as Array<[string, string[], string[]]>) {
            if (nodeId !== victim) assert.ok(!alive.includes(victim), `${nodeId} still sees the killed node alive`);
          }
        }
      },
      60_000,
      500,
    );
    const detected = Date.now() - killedAt;
    assert.equal(await seed.hasActor("scale/p2-4"), false);
    console.log(`# ${everyone.length} nodes (5 processes of 10 + a seed): converged in ${converged} ms; a killed node was dead everywhere after ${detected} ms`);
  });
});
