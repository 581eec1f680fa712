/**
 * The real gossip membership at 10, 100, 1,000 (and, when memory allows, 10,000) members on a simulated clock over
 * a simulated network (test/sim: the network and gossipsub traffic model are described in sim-network.ts). For
 * each size: per-node messages/s and bytes/s in a quiet window after convergence, the time for a new member to
 * reach 99.9 % of the members, and the time until a killed member is dead in every view; each next to the
 * 10-member figure as a ratio.
 *
 *   npm run bench -- membership-sim
 *   SIM_SIZES=10,100 npm run bench -- membership-sim     other sizes
 *
 * Every node of the simulation keeps a full member table, so one process holds n² records: memory grows as n²
 * (measured per record at each size; a size whose projection does not fit the heap is skipped and says so). Every
 * wait is bounded in sim time, and growing a cluster in wall time (WALL_BUDGET_MS).
 *
 * Wall time: seconds up to 100 members; about 10 minutes at 1,000 on two busy cores, nearly all of it growing the
 * cluster, because each member a node adds costs it a re-sort of its whole ring (`#add` → `#keepConnected` →
 * `#watched` → `#fullRing`), so growing to n members costs every node O(n² log n) — the row "one node takes in
 * the table" shows the same cost for a single join.
 */
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { GossipMembership } from "../src/cluster/gossip-membership.js";
import type { MembershipHost } from "../src/cluster/membership.js";
import type { MembershipTopic } from "../src/cluster/membership-topic.js";
import { SimClock } from "../test/sim/sim-clock.js";
import { SimNetwork } from "../test/sim/sim-network.js";
import { buildCluster, fmtBytes, measureArrival, measureDetection, measureSteady, type SteadyFigures } from "../test/sim/scenarios.js";
import { table } from "./harness.js";

const SIZES = (process.env.SIM_SIZES ?? "10,100,1000,10000").split(",").map(Number).filter((n) => Number.isSafeInteger(n) && n >= 2);
/** Sim seconds of the quiet window. */
const QUIET_SECONDS = 30;
/** Wall time a cluster may take to grow and converge. */
const WALL_BUDGET_MS = 30 * 60_000;
/** Heap per member-table record, before one was measured (1,000 members measured ~1.3 KiB). */
const DEFAULT_RECORD_BYTES = 1_400;

interface SizeFigures {
  size: number;
  convergeSimMs: number;
  convergeWallMs: number;
  heapMB: number;
  recordBytes: number;
  steady: SteadyFigures;
  arrivalP999: number;
  arrivalMax: number;
  detectAllMs: number;
  detectFirstSuspicionMs: number;
  runWallMs: number;
  joinWallMs: number;
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
/** Live heap: after a full collection. */
const heapUsed = (): number => {
  gc();
  return getHeapStatistics().used_heap_size;
};

async function runSize(size: number, recordBytes: number): Promise<Omit<SizeFigures, "joinWallMs">> {
  const started = performance.now();
  const baseline = heapUsed();
  const net = new SimNetwork({ seed: size });
  try {
    const built = await buildCluster(net, size, { maxConvergeMs: 120_000, wallBudgetMs: WALL_BUDGET_MS });
    if (!built.converged) throw new Error(`${size} members did not converge within 120 s of sim time`);
    const heap = heapUsed();
    await net.clock.runFor(5_000);
    const steady = await measureSteady(net, QUIET_SECONDS);
    const arrival = await measureArrival(net, 20_000);
    await net.clock.runFor(2_000);
    const detection = await measureDetection(net, "kill", 10_000);
    return {
      size,
      convergeSimMs: built.convergedAt,
      convergeWallMs: built.wallMs,
      heapMB: heap / 2 ** 20,
      // Below 100 members the fixed costs swamp the tables: keep the estimate.
      recordBytes: size >= 100 ? (heap - baseline) / (size * size) : recordBytes,
      steady,
      arrivalP999: arrival.p999,
      arrivalMax: arrival.max,
      detectAllMs: detection.allDeadMs,
      detectFirstSuspicionMs: detection.firstSuspicionMs,
      runWallMs: performance.now() - started,
    };
  } finally {
    net.dispose();
  }
}

/**
 * Wall time one node takes to take in a pulled table of `size` members (`joined()` on a seed's digest), the
 * join's synchronous cost: it needs one node, not `size` of them, so it runs at every size.
 */
async function takeInWallMs(size: number): Promise<number> {
  const digest = Array.from({ length: size }, (_, i) => ({
    k: "alive",
    id: `12D3KooWtakein${i.toString(36).padStart(38, "0")}`,
    inc: 1_750_000_000_000 + i,
    rt: "node",
    addrs: [`/ip4/10.0.${(i >> 8) & 255}.${i & 255}/tcp/4001`],
    ep: 1,
    rv: 0,
    names: [],
  }));
  const host: MembershipHost = {
    nodeId: "12D3KooWtakeinself",
    runtime: "node",
    addrs: () => ["/ip4/10.1.0.1/tcp/4001"],
    load: (lag) => ({ actors: 0, mailbox: 0, inflight: 0, lag }),
    localSnapshot: () => ({ incarnation: 1, version: 0, names: [] }),
    fetchSnapshot: async () => ({ incarnation: 1, version: 0, names: [] }),
    fetchMembers: async () => digest,
    ping: async () => true,
    probeVia: async () => true,
    connect: () => new Promise<void>(() => {}), // dials pending throughout
    learn: async () => {},
    connectedPeers: () => ["12D3KooWtakeinseed"],
    memberGone: () => {},
    emit: () => {},
    report: () => {},
  };
  const topic: MembershipTopic = { start: () => {}, stop: () => {}, publish: async () => 1, onPeerSubscribed: () => {} };
  const membership = new GossipMembership(host, topic, () => true, {}, { clock: new SimClock(), incarnation: 1 });
  await membership.start();
  const t = performance.now();
  await membership.joined(["12D3KooWtakeinseed"]);
  return performance.now() - t;
}

const ratio = (value: number, base: number | undefined): string =>
  base === undefined || !Number.isFinite(value) || !Number.isFinite(base) || base === 0 ? "" : `×${(value / base).toFixed(2)} of 10`;

export async function benchMembershipSim(sizes: number[] = SIZES): Promise<void> {
  console.log("\nmembership simulation (real GossipMembership, sim clock and network; default timings)");
  const results: SizeFigures[] = [];
  let recordBytes = DEFAULT_RECORD_BYTES;
  const limit = getHeapStatistics().heap_size_limit;
  for (const size of [...sizes].sort((a, b) => a - b)) {
    const join = await takeInWallMs(size);
    const projected = recordBytes * size * size;
    if (projected > 0.7 * (limit - heapUsed())) {
      console.log(
        `\n${size} members: skipped — every node keeps the full table, so the simulation needs ~${(projected / 2 ** 30).toFixed(1)} GiB ` +
          `(${size}² records × ${recordBytes.toFixed(0)} B measured), over this heap's ${(limit / 2 ** 30).toFixed(1)} GiB ` +
          `(a real node's own table at this size: ~${((recordBytes * size) / 2 ** 20).toFixed(1)} MiB). ` +
          `One node taking in a ${size}-member table (join): ${join.toFixed(0)} ms of wall time.`,
      );
      continue;
    }
    const figures = { ...(await runSize(size, recordBytes)), joinWallMs: join };
    recordBytes = figures.recordBytes;
    results.push(figures);
    const base = results.find((r) => r.size === 10);
    const s = figures.steady;
    table(`${size} members (${(figures.runWallMs / 1000).toFixed(0)} s of wall time)`, [
      ["converged (sim)", `${(figures.convergeSimMs / 1000).toFixed(2)} s`, `${(figures.convergeWallMs / 1000).toFixed(1)} s wall to grow and converge`],
      ["messages per node (in + out)", `${s.msgsPerSec.toFixed(1)} /s`, ratio(s.msgsPerSec, base?.steady.msgsPerSec)],
      ["bytes per node (in + out)", fmtBytes(s.bytesPerSec), ratio(s.bytesPerSec, base?.steady.bytesPerSec)],
      ["  topic / rpc / ping", `${fmtBytes(s.byKind.topic.bytesPerSec)} / ${fmtBytes(s.byKind.rpc.bytesPerSec)} / ${fmtBytes(s.byKind.ping.bytesPerSec)}`, ""],
      ["  median node / busiest node", `${fmtBytes(s.medianBytesPerSec)} / ${fmtBytes(s.maxBytesPerSec)}`, ratio(s.maxBytesPerSec, base?.steady.maxBytesPerSec)],
      ["suspicions in the quiet window", `${s.suspicions}`, `${QUIET_SECONDS} s, ${s.antiEntropyRounds} anti-entropy rounds, ${s.antiEntropyRepairs} repairs`],
      ["new member in 99.9 % of views", `${figures.arrivalP999.toFixed(0)} ms`, ratio(figures.arrivalP999, base?.arrivalP999)],
      ["  in all views", `${figures.arrivalMax.toFixed(0)} ms`, ratio(figures.arrivalMax, base?.arrivalMax)],
      ["killed member dead in every view", `${figures.detectAllMs.toFixed(0)} ms`, ratio(figures.detectAllMs, base?.detectAllMs)],
      ["  first suspicion", `${figures.detectFirstSuspicionMs.toFixed(0)} ms`, ""],
      ["heap after convergence", `${figures.heapMB.toFixed(0)} MiB`, `${figures.recordBytes.toFixed(0)} B per table record (n² records)`],
      ["one node takes in the table (join)", `${join.toFixed(1)} ms of wall time`, ratio(join, base?.joinWallMs)],
    ]);
  }
}
