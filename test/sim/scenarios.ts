/**
 * Measurements on a `SimNetwork`, shared by test/membership-sim.test.ts and bench/membership-sim.ts. Every wait
 * is bounded in sim time (and the cluster's growth in wall time); times are sim milliseconds.
 */
import { quantile, rates, type SimNetwork, type SimNode } from "./sim-network.js";

/** Starts `size` members (the seed, then waves joining through it) and waits for every view to be complete. */
export async function buildCluster(
  net: SimNetwork,
  size: number,
  { maxConvergeMs = 60_000, wallBudgetMs = Infinity }: { maxConvergeMs?: number; wallBudgetMs?: number } = {},
): Promise<{ convergedAt: number; wallMs: number; converged: boolean }> {
  const started = performance.now();
  const waveSize = Math.max(10, Math.ceil(size / 50));
  let left = size;
  while (left > 0) {
    const wave = Math.min(left, waveSize);
    await net.grow(wave, { waveSize, waveMs: 250 });
    left -= wave;
    if (performance.now() - started > wallBudgetMs) throw new Error(`growing to ${size} members took over ${wallBudgetMs} ms of wall time`);
  }
  const converged = await net.clock.runUntil(
    () => net.converged() || performance.now() - started > wallBudgetMs,
    maxConvergeMs,
    Math.min(250, 10 + size / 4),
  );
  return { convergedAt: net.clock.now(), wallMs: performance.now() - started, converged: converged && net.converged() };
}

export interface SteadyFigures {
  seconds: number;
  /** Per node, in + out, mean over the nodes. */
  msgsPerSec: number;
  bytesPerSec: number;
  medianBytesPerSec: number;
  maxBytesPerSec: number;
  byKind: ReturnType<typeof rates>["byKind"];
  /** Suspicions (by anyone, of anyone) during the window. */
  suspicions: number;
  deaths: number;
  antiEntropyRounds: number;
  antiEntropyRepairs: number;
}

/** Runs `seconds` of sim time with no failures: per-node traffic, and every suspicion raised meanwhile. */
export async function measureSteady(net: SimNetwork, seconds: number): Promise<SteadyFigures> {
  const nodes = net.liveNodes();
  const before = net.trafficSnapshot();
  const ae0 = nodes.map((n) => n.membership.antiEntropy);
  const t0 = net.clock.now();
  await net.clock.runFor(seconds * 1_000);
  const after = net.trafficSnapshot();
  const r = rates(before, after, nodes, seconds);
  const perNode = nodes.map((n) => {
    const a = before.get(n.id)!;
    const b = after.get(n.id)!;
    let bytes = 0;
    for (const k of ["topic", "rpc", "ping"] as const) bytes += b[k].bytesIn + b[k].bytesOut - a[k].bytesIn - a[k].bytesOut;
    return bytes / seconds;
  });
  const ae1 = nodes.map((n) => n.membership.antiEntropy);
  const events = net.events.filter((e) => e.t >= t0);
  return {
    seconds,
    msgsPerSec: r.msgsPerSec,
    bytesPerSec: r.bytesPerSec,
    medianBytesPerSec: quantile(perNode, 0.5),
    maxBytesPerSec: r.maxBytesPerSec,
    byKind: r.byKind,
    suspicions: events.filter((e) => e.type === "member:suspect").length,
    deaths: events.filter((e) => e.type === "member:down").length,
    antiEntropyRounds: ae1.reduce((s, a, i) => s + a.rounds - ae0[i]!.rounds, 0),
    antiEntropyRepairs: ae1.reduce((s, a, i) => s + a.repairs - ae0[i]!.repairs, 0),
  };
}

export interface ArrivalFigures {
  /** Members that were to see the newcomer, and how many did. */
  members: number;
  reached: number;
  /** From the newcomer's start to its arrival at 50 % / 99.9 % / all of the members. */
  p50: number;
  p999: number;
  max: number;
  /** From its start until its own view holds every member. */
  ownViewMs: number;
}

/** Adds a member (through the seed) and times its arrival in everyone's view (its first `member:up` at each). */
export async function measureArrival(net: SimNetwork, maxMs = 10_000): Promise<ArrivalFigures> {
  const members = net.liveNodes();
  const newcomer = net.addNode();
  net.track(newcomer);
  const t0 = net.clock.now();
  let ownViewAt = NaN;
  await net.clock.runUntil(
    () => {
      if (Number.isNaN(ownViewAt) && members.every((m) => newcomer.view.get(m.id) === "alive")) ownViewAt = net.clock.now();
      return !Number.isNaN(ownViewAt) && members.every((m) => m.view.get(newcomer.id) === "alive");
    },
    maxMs,
    0,
  );
  const arrivals = members
    .map((m) => net.arrivals(newcomer).get(m.id))
    .filter((t): t is number => t !== undefined)
    .map((t) => t - t0)
    .sort((a, b) => a - b);
  const needed = Math.ceil(0.999 * members.length);
  return {
    members: members.length,
    reached: arrivals.length,
    p50: quantile(arrivals, 0.5),
    p999: arrivals.length >= needed ? arrivals[needed - 1]! : Infinity,
    max: arrivals.length === members.length ? Math.max(...arrivals) : Infinity,
    ownViewMs: ownViewAt - t0,
  };
}

export interface DetectionFigures {
  victim: SimNode;
  /** All live members see it dead (within `maxMs`). */
  detected: boolean;
  /** From the failure to the first suspicion / first death / the last member's verdict. */
  firstSuspicionMs: number;
  firstDeathMs: number;
  allDeadMs: number;
  observers: number;
}

/** A member that is not the seed, picked by the network's generator. */
export function pickVictim(net: SimNetwork): SimNode {
  const candidates = net.liveNodes().filter((n) => n !== net.nodes[0]);
  return candidates[Math.floor(net.random() * candidates.length)]!;
}

/** Fails `victim` (kill, freeze or partition away) and times until every other live member sees it dead. */
export async function measureDetection(net: SimNetwork, how: "kill" | "freeze" | "partition", maxMs = 10_000, victim = pickVictim(net)): Promise<DetectionFigures> {
  const t0 = net.clock.now();
  if (how === "kill") net.kill(victim);
  else if (how === "freeze") net.freeze(victim);
  else net.partition([victim]);
  const observers = net.liveNodes().filter((n) => n !== victim && n.group === 0);
  const detected = await net.clock.runUntil(() => net.everyoneSees(victim, "dead", observers), maxMs, 0);
  const about = net.eventsAbout(victim, t0).filter((e) => e.observer !== victim.id);
  const times = (type: string) => about.filter((e) => e.type === type).map((e) => e.t - t0);
  return {
    victim,
    detected,
    firstSuspicionMs: Math.min(...times("member:suspect")),
    firstDeathMs: Math.min(...times("member:down")),
    allDeadMs: detected ? net.clock.now() - t0 : Infinity,
    observers: observers.length,
  };
}

/** Waits until every live member sees every other alive again; the sim time it took (Infinity: not within `maxMs`). */
export async function measureReconvergence(net: SimNetwork, maxMs = 30_000): Promise<number> {
  const t0 = net.clock.now();
  const ok = await net.clock.runUntil(() => net.converged(), maxMs, 10);
  return ok ? net.clock.now() - t0 : Infinity;
}

export const fmtBytes = (bytesPerSec: number): string =>
  bytesPerSec >= 1024 ? `${(bytesPerSec / 1024).toFixed(2)} KiB/s` : `${bytesPerSec.toFixed(0)} B/s`;
