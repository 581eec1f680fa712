/**
 * Cluster costs and timings: join→resolvable, failure detection, gossip traffic per node as the cluster grows,
 * and false suspicions of a CPU-busy node over a minute.
 */
import * as pul from "pulsing";
import { Counter } from "../test/fixtures/actors.js";
import { startNode, type ChildNode } from "../test/cluster/harness.js";
import { startNodeHost, type NodeHost } from "../test/cluster/node-host.js";
import { table } from "./harness.js";

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const tcpOf = (system: pul.ActorSystem): string => system.addrs.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/") && !a.includes("/ws"))!;

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Membership traffic per node per second over `windowMs`, once `n` nodes (this process's seed plus processes of
 * up to ten nodes each, default timings) have converged and settled: every byte a node writes (all protocols:
 * gossipsub, probes, anti-entropy; after noise and yamux; from /proc/self/io of the node processes, which do nothing
 * else), gossipsub bytes arriving per node (before yamux/noise), membership messages, and CPU per node.
 */
export async function gossipCost(
  n: number,
  windowMs: number,
  membership?: pul.MembershipOptions,
  settleMs = 5_000,
): Promise<{ wireOut: number; bytesIn: number; messages: number; cpuPercent: number; converged: boolean; seen: Record<string, number>; connectionChurn: number }> {
  const seed = await pul.actorSystem({ addr: "127.0.0.1:0", ...(membership ? { membership } : {}) });
  const hosts: NodeHost[] = [];
  try {
    // Every process at once (one after the other, a hundred nodes took minutes to start on two cores).
    const counts: number[] = [];
    for (let left = n - 1; left > 0; left -= 10) counts.push(Math.min(10, left));
    hosts.push(
      ...(await Promise.all(
        counts.map((count, p) => startNodeHost({ count, seeds: [tcpOf(seed)], prefix: `bench/n${n}-p${p}-`, ...(membership ? { membership } : {}) })),
      )),
    );
    let converged = true;
    await until(() => seed.members().filter((m) => m.status === "alive").length === n, 120_000, `${n} nodes converging`).catch(() => {
      converged = false;
    });
    await new Promise((resolve) => setTimeout(resolve, settleMs)); // joins settle: steady state from here
    type Traffic = {
      gossipBytesIn: number;
      messagesIn: number;
      messagesOut: number;
      cpuMs: number;
      wireBytesOut: number;
      connectionsOpened: number;
      connectionsClosed: number;
    };
    const read = async () => Promise.all(hosts.map(async (h) => (await h.ask({ traffic: true })).traffic as Traffic));
    // What the seed sees change in the window (steady state: nothing).
    const seen: Record<string, number> = { "member:up": 0, "member:suspect": 0, "member:down": 0 };
    const count = (event: Event): void => void seen[event.type]!++;
    for (const type of Object.keys(seen)) seed.addEventListener(type, count);
    const before = await read();
    const t = performance.now();
    // PULSING_BENCH_PROFILE=dir: a V8 CPU profile of the first node process over the window (dir/cluster-<n>.cpuprofile).
    const profileDir = process.env.PULSING_BENCH_PROFILE;
    if (profileDir !== undefined) await hosts[0]!.ask({ profile: { ms: windowMs, path: `${profileDir}/cluster-${n}.cpuprofile` } });
    else await new Promise((resolve) => setTimeout(resolve, windowMs));
    const after = await read();
    for (const type of Object.keys(seen)) seed.removeEventListener(type, count);
    const seconds = (performance.now() - t) / 1000;
    const delta = (key: keyof Traffic) => after.reduce((sum, a, i) => sum + a[key] - before[i]![key], 0);
    const hosted = n - 1;
    return {
      wireOut: delta("wireBytesOut") / hosted / seconds,
      bytesIn: delta("gossipBytesIn") / hosted / seconds,
      messages: (delta("messagesIn") + delta("messagesOut")) / hosted / seconds,
      cpuPercent: (delta("cpuMs") / hosted / seconds / 1000) * 100,
      converged,
      seen,
      connectionChurn: (delta("connectionsOpened") + delta("connectionsClosed")) / hosted / seconds,
    };
  } finally {
    for (const host of hosts) host.kill();
    await seed.shutdown();
  }
}

/** From `actorSystem()` of a new node to its named actor being resolvable on an existing node. */
async function joinToResolvable(rounds: number): Promise<number[]> {
  const seed = await pul.actorSystem({ addr: "127.0.0.1:0" });
  const others = await Promise.all([0, 1, 2].map(() => pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpOf(seed)] })));
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const t = performance.now();
      const joiner = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpOf(seed)] });
      await joiner.spawn(Counter, { name: `bench/joiner${i}` });
      await others[i % others.length]!.resolve(`bench/joiner${i}`, { timeout: 10_000 });
      times.push(performance.now() - t);
      await joiner.shutdown();
    }
  } finally {
    await Promise.all([seed, ...others].map((s) => s.shutdown()));
  }
  return times;
}

/** From SIGKILL (or SIGSTOP: a frozen node whose sockets stay open) to "dead" on this node. */
async function detection(signal: "SIGKILL" | "SIGSTOP", rounds: number): Promise<number[]> {
  const seed = await pul.actorSystem({ addr: "127.0.0.1:0" });
  const witnesses = await Promise.all([0, 1].map(() => startNode({ addr: "127.0.0.1:0", seeds: [tcpOf(seed)] })));
  const times: number[] = [];
  try {
    for (let i = 0; i < rounds; i++) {
      const victim = await startNode({ addr: "127.0.0.1:0", seeds: [tcpOf(seed)] });
      await until(() => seed.members().find((m) => m.nodeId === victim.nodeId)?.status === "alive", 20_000, "victim joining");
      await new Promise((resolve) => setTimeout(resolve, 1_000)); // a few heartbeats of rhythm
      const t = performance.now();
      victim.process.kill(signal);
      await until(() => seed.members().find((m) => m.nodeId === victim.nodeId)?.status === "dead", 20_000, "detection");
      times.push(performance.now() - t);
      victim.process.kill("SIGKILL");
    }
  } finally {
    await Promise.all(witnesses.map((w) => w.stop()));
    await seed.shutdown();
  }
  return times;
}

/** Suspicions of a node that keeps its CPU ~90 % busy for `ms`, seen by the seed and three other nodes. */
async function busyNode(ms: number): Promise<{ suspicions: number; deaths: number; watchers: number }> {
  const seed = await pul.actorSystem({ addr: "127.0.0.1:0" });
  const nodes: ChildNode[] = [];
  try {
    nodes.push(...(await Promise.all([0, 1, 2].map(() => startNode({ addr: "127.0.0.1:0", seeds: [tcpOf(seed)] })))));
    const busy = await startNode({ addr: "127.0.0.1:0", seeds: [tcpOf(seed)] });
    nodes.push(busy);
    await until(() => seed.members().filter((m) => m.status === "alive").length === 5, 20_000, "five nodes");
    let suspicions = 0;
    let deaths = 0;
    seed.addEventListener("member:suspect", (e) => void ((e as CustomEvent<pul.Member>).detail.nodeId === busy.nodeId && suspicions++));
    seed.addEventListener("member:down", (e) => void ((e as CustomEvent<pul.Member>).detail.nodeId === busy.nodeId && deaths++));
    await busy.command({ burn: { ms, busyMs: 90, idleMs: 10 } });
    await new Promise((resolve) => setTimeout(resolve, ms));
    // the other watchers' views, via their own reports
    for (const watcher of nodes.slice(0, 3)) {
      const view = (await watcher.command({ members: true })).members as pul.Member[];
      if (view.find((m) => m.nodeId === busy.nodeId)?.status !== "alive") deaths++;
    }
    return { suspicions, deaths, watchers: 4 };
  } finally {
    await Promise.all(nodes.map((n) => n.kill()));
    await seed.shutdown();
  }
}

export async function benchCluster(options: { busyMs?: number } = {}): Promise<void> {
  const join = await joinToResolvable(5);
  const killed = await detection("SIGKILL", 3);
  const frozen = await detection("SIGSTOP", 3);
  table("cluster timings (loopback, default membership timings)", [
    ["join → resolvable (new node's actor, from another node)", `median ${median(join).toFixed(0)} ms`, `target ≤ 1000 ms (${join.map((t) => t.toFixed(0)).join(", ")})`],
    ["killed node (SIGKILL) declared dead", `median ${median(killed).toFixed(0)} ms`, `target ≤ 3000 ms (${killed.map((t) => t.toFixed(0)).join(", ")})`],
    ["frozen node (SIGSTOP) declared dead", `median ${median(frozen).toFixed(0)} ms`, `target ≤ 3000 ms (${frozen.map((t) => t.toFixed(0)).join(", ")})`],
  ]);
  const rows: Array<[string, string, string]> = [];
  let base: { wireOut: number; cpuPercent: number } | undefined;
  for (const n of [10, 25, 50, 100]) {
    const cost = await gossipCost(n, 10_000, undefined, 10_000);
    base ??= cost;
    const ratio = (value: number, of: number): string => (of > 0 ? `${(value / of).toFixed(2)}×` : "—");
    const seen = `${cost.seen["member:suspect"]} suspicions, ${cost.seen["member:down"]} deaths seen by the seed; ${cost.connectionChurn.toFixed(2)} connections opened or closed per node per s`;
    rows.push([
      `${n} nodes${cost.converged ? "" : " (did not converge)"}`,
      `${(cost.wireOut / 1024).toFixed(2)} KiB/s out per node (${ratio(cost.wireOut, base.wireOut)} of 10 nodes); gossipsub ${(cost.bytesIn / 1024).toFixed(2)} KiB/s in, ${cost.messages.toFixed(1)} membership msg/s; ${seen}`,
      `${cost.cpuPercent.toFixed(2)} % of a core per node (${ratio(cost.cpuPercent, base.cpuPercent)} of 10 nodes; processes of 10 nodes on 2 cores)`,
    ]);
  }
  table("membership cost per node in steady state as the cluster grows (default timings; target at 100 nodes: ≤ 2× of 10 nodes, < 2 KiB/s and < 1 % of a core)", rows);
  const busyMs = options.busyMs ?? 60_000;
  const busy = await busyNode(busyMs);
  table(`a CPU-busy node (90 ms busy / 10 ms idle) for ${busyMs / 1000} s`, [
    ["suspicions of it (seen by the seed)", String(busy.suspicions), "target 0"],
    ["watchers that ended up not seeing it alive", String(busy.deaths), `of ${busy.watchers}`],
  ]);
}
