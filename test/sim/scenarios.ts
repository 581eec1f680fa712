/**
 * Measurements on a `SimNetwork`, shared by test/membership-sim.test.ts and bench/membership-sim.ts. Every wait
 * is bounded in sim time (and the cluster's growth in wall time); times are sim milliseconds.
 */
import { quantile, rates, TRAFFIC_KINDS, type SimNetwork, type SimNode, type Traffic } from "./sim-network.js";

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
    for (const k of TRAFFIC_KINDS) bytes += b[k].bytesIn + b[k].bytesOut - a[k].bytesIn - a[k].bytesOut;
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
  return timeArrival(net, () => net.addNode(), maxMs);
}

/** Adds a member with `add` and times its own view and its arrival in every live view. */
async function timeArrival(net: SimNetwork, add: () => SimNode, maxMs: number): Promise<ArrivalFigures> {
  const members = net.liveNodes();
  const newcomer = add();
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

// --- tabs (light members) ---------------------------------------------------------------------------------------

export interface TabArrivalFigures {
  tabs: number;
  /** Per tab, from its start: its own view complete (every other live member alive), and it in every live view. */
  ownViewMs: number[];
  inEveryViewMs: number[];
  /** Every view (tabs' and full nodes') complete, from the first tab's start. */
  convergedMs: number;
}

/**
 * Adds `count` tabs at once (each with the default seeds: node 0 and one other full node) and times, per tab, its
 * own view and its arrival in every view, until every view is complete (or `maxMs`).
 */
export async function addTabs(net: SimNetwork, count: number, maxMs = 10_000): Promise<TabArrivalFigures & { added: SimNode[] }> {
  const t0 = net.clock.now();
  const added: SimNode[] = [];
  for (let i = 0; i < count; i++) {
    const tab = net.addTab();
    net.track(tab);
    added.push(tab);
  }
  const ownViewAt = new Map<SimNode, number>();
  const ok = await net.clock.runUntil(
    () => {
      if (added.some((t) => Number.isNaN(t.joinedAt))) return false;
      const live = net.liveNodes();
      for (const tab of added) if (!ownViewAt.has(tab) && tab.aliveCount >= live.length - 1 && live.every((m) => m === tab || tab.view.get(m.id) === "alive")) ownViewAt.set(tab, net.clock.now());
      // (cheap checks first: `converged()` is quadratic)
      return ownViewAt.size === added.length && added.every((tab) => net.arrivals(tab).size >= live.length - 1) && net.converged();
    },
    maxMs,
    0,
  );
  const members = net.liveNodes();
  const inEveryView = added.map((tab) => {
    const arrivals = net.arrivals(tab);
    const times = members.filter((m) => m !== tab).map((m) => arrivals.get(m.id));
    return times.every((t) => t !== undefined) ? Math.max(...(times as number[])) - t0 : Infinity;
  });
  return {
    added,
    tabs: count,
    ownViewMs: added.map((tab) => (ownViewAt.get(tab) ?? Infinity) - t0),
    inEveryViewMs: inEveryView,
    convergedMs: ok ? net.clock.now() - t0 : Infinity,
  };
}

/** Adds one tab (seeds `homes`, or the default ones) and times its own view and its arrival in every live view. */
export async function measureTabArrival(net: SimNetwork, homes?: SimNode[], maxMs = 10_000): Promise<ArrivalFigures & { tab: SimNode }> {
  let tab: SimNode | undefined;
  const figures = await timeArrival(net, () => (tab = net.addTab(homes)), maxMs);
  return { tab: tab!, ...figures };
}

export interface LeaveFigures {
  /** From `stop()` to the last live member's verdict (Infinity: not within `maxMs`). */
  goneEverywhereMs: number;
  observers: number;
  /** Observers whose verdict was not "left the cluster" (they found it gone some other way), and suspicions of it. */
  otherwiseGone: number;
  suspicions: number;
}

/** `member` leaves gracefully (`membership.stop()`, then its connections close): until it is dead in every live view. */
export async function measureLeave(net: SimNetwork, member: SimNode, maxMs = 5_000): Promise<LeaveFigures> {
  const observers = net.liveNodes().filter((n) => n !== member);
  const t0 = net.clock.now();
  await net.leave(member); // runs the clock 200 ms
  await net.clock.runUntil(() => net.everyoneSees(member, "dead", observers), Math.max(0, maxMs - (net.clock.now() - t0)), 0);
  const about = net.eventsAbout(member, t0);
  const downs = about.filter((e) => e.type === "member:down");
  const all = observers.every((o) => downs.some((e) => e.observer === o.id));
  const gone = about.filter((e) => e.type === "gone");
  return {
    goneEverywhereMs: all ? Math.max(...downs.map((e) => e.t)) - t0 : Infinity,
    observers: observers.length,
    otherwiseGone: observers.filter((o) => !gone.some((e) => e.observer === o.id && e.why === "left the cluster")).length,
    suspicions: about.filter((e) => e.type === "member:suspect").length,
  };
}

export interface RoleFigures {
  /** Mean per full node, in + out: topic + rpc + ping (what a full node pays to be a member), and the feeds it serves. */
  fullBytesPerSec: number;
  fullFeedBytesPerSec: number;
  fullByKind: Record<keyof Traffic, number>;
  /** Mean per tab, in + out: feed + rpc + ping (it has no topic). */
  tabBytesPerSec: number;
  tabMaxBytesPerSec: number;
  tabByKind: Record<keyof Traffic, number>;
  /** The busiest full node, everything counted (the seed: it is every tab's first seed). */
  busiestFullBytesPerSec: number;
  busiestFull: SimNode | undefined;
  suspicions: number;
  deaths: number;
}

/** Runs `seconds` of sim time (`during`, if given, runs alongside): traffic per role. */
export async function measureRoles(net: SimNetwork, seconds: number, during?: () => Promise<void>): Promise<RoleFigures> {
  const nodes = net.liveNodes();
  const before = net.trafficSnapshot();
  const t0 = net.clock.now();
  if (during !== undefined) await during();
  const left = seconds * 1_000 - (net.clock.now() - t0);
  if (left > 0) await net.clock.runFor(left);
  const elapsed = (net.clock.now() - t0) / 1_000;
  const after = net.trafficSnapshot();
  const per = (node: SimNode, kind: keyof Traffic): number => {
    const a = before.get(node.id)![kind];
    const b = after.get(node.id)![kind];
    return (b.bytesIn + b.bytesOut - a.bytesIn - a.bytesOut) / elapsed;
  };
  const full = nodes.filter((n) => !n.isTab && n.up);
  const tabs = nodes.filter((n) => n.isTab && n.up);
  const mean = (list: SimNode[], kind: keyof Traffic): number => list.reduce((s, n) => s + per(n, kind), 0) / Math.max(1, list.length);
  const byKind = (list: SimNode[]): Record<keyof Traffic, number> =>
    Object.fromEntries(TRAFFIC_KINDS.map((k) => [k, mean(list, k)])) as Record<keyof Traffic, number>;
  const fullByKind = byKind(full);
  const tabByKind = byKind(tabs);
  const total = (n: SimNode): number => TRAFFIC_KINDS.reduce((s, k) => s + per(n, k), 0);
  const busiest = full.reduce<SimNode | undefined>((best, n) => (best === undefined || total(n) > total(best) ? n : best), undefined);
  const events = net.events.filter((e) => e.t >= t0);
  return {
    fullBytesPerSec: fullByKind.topic + fullByKind.rpc + fullByKind.ping,
    fullFeedBytesPerSec: fullByKind.feed,
    fullByKind,
    tabBytesPerSec: tabByKind.feed + tabByKind.rpc + tabByKind.ping,
    tabMaxBytesPerSec: Math.max(0, ...tabs.map((n) => per(n, "feed") + per(n, "rpc") + per(n, "ping"))),
    tabByKind,
    busiestFullBytesPerSec: busiest === undefined ? 0 : total(busiest),
    busiestFull: busiest,
    suspicions: events.filter((e) => e.type === "member:suspect").length,
    deaths: events.filter((e) => e.type === "member:down").length,
  };
}
