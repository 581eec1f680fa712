/**
 * The stage for the hostile-peer tests: the target node and a well-behaved caller, each in its own process
 * (test/hostile/target-node.ts, caller-node.ts), and a watch on the target's memory read from /proc (a node frozen
 * by an attack cannot report its own).
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { spawnLineProcess, type LineProcess } from "../cluster/line-process.js";
import type { CallerReport } from "./caller-node.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const TARGET = fileURLToPath(new URL("./target-node.ts", import.meta.url));
const CALLER = fileURLToPath(new URL("./caller-node.ts", import.meta.url));

export const PASSPHRASE = "hostile-test-cluster-secret";
const MB = 1024 * 1024;

export interface Target {
  nodeId: string;
  addrs: string[];
  /** The TCP multiaddr, with /p2p/. */
  tcp: string;
  /** Local ids of the "counter" (Counter) and "failer" (Failer) actors. */
  counter: number;
  failer: number;
  pid: number;
  /** A command line and its answer; rejects when the node does not answer within `ms` (e.g. frozen). */
  ask(command: unknown, ms?: number): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
}

export async function startTarget(options: { passphrase?: string } = {}): Promise<Target> {
  const proc = spawnLineProcess(
    process.execPath,
    ["--conditions=pulsing-source", "--import", "tsx", TARGET, JSON.stringify(options)],
    ROOT,
    "target node",
  );
  const first = await proc.next(30_000).catch(async (error: unknown) => {
    await proc.kill();
    throw error;
  });
  if ("error" in first) throw new Error(`target failed to start: ${JSON.stringify(first.error)}`);
  const ready = first.ready as { nodeId: string; addrs: string[]; counter: number; failer: number; pid: number };
  const tcp = ready.addrs.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/") && !a.includes("/ws"));
  if (tcp === undefined) throw new Error(`no loopback TCP address among ${ready.addrs.join(", ")}`);
  return { ...ready, tcp, ask: (command, ms = 5_000) => proc.ask(command, ms), kill: () => proc.kill() };
}

export interface Caller {
  nodeId: string;
  start(): Promise<void>;
  report(): Promise<CallerReport>;
  stop(): Promise<CallerReport>;
  kill(): Promise<void>;
}

export interface CallerOptions {
  passphrase?: string;
  intervalMs?: number;
  timeoutMs?: number;
}

/**
 * The well-behaved member, started in two steps so that its process loads while the target starts: `spawnCaller()`,
 * then `join(target)` (joins with the secret; `start()` then calls the target's counter every `intervalMs`).
 */
export function spawnCaller(): { join(target: Target, options?: CallerOptions): Promise<Caller>; kill(): Promise<void> } {
  const proc: LineProcess = spawnLineProcess(process.execPath, ["--conditions=pulsing-source", "--import", "tsx", CALLER], ROOT, "caller node");
  return {
    kill: () => proc.kill(),
    join: async (target, options = {}) => {
      const join = {
        seed: target.tcp,
        passphrase: options.passphrase,
        target: target.nodeId,
        counter: target.counter,
        intervalMs: options.intervalMs ?? 50,
        timeoutMs: options.timeoutMs ?? 2_000,
      };
      const first = await proc.ask({ join }, 30_000);
      if ("error" in first) throw new Error(`caller failed to start: ${JSON.stringify(first.error)}`);
      return {
        nodeId: (first.ready as { nodeId: string }).nodeId,
        start: async () => void (await proc.ask({ start: true }, 5_000)),
        report: async () => (await proc.ask({ report: true }, 5_000)).report as CallerReport,
        // A call in flight may take up to its timeout to end.
        stop: async () => (await proc.ask({ stop: true }, 10_000)).report as CallerReport,
        kill: () => proc.kill(),
      };
    },
  };
}

/** Resident set size of process `pid` in bytes (Linux /proc), undefined when gone. */
export async function rssOf(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Samples a process's resident set size every `intervalMs`; `peak - baseline` is what an attack cost. */
export class MemoryWatch {
  baseline = 0;
  peak = 0;
  last = 0;
  samples = 0;
  readonly #timer: NodeJS.Timeout;
  readonly #pid: number;

  private constructor(pid: number, baseline: number, intervalMs: number) {
    this.#pid = pid;
    this.baseline = this.peak = this.last = baseline;
    this.#timer = setInterval(() => void this.sample(), intervalMs);
  }

  static async start(pid: number, intervalMs = 100): Promise<MemoryWatch> {
    const rss = await rssOf(pid);
    if (rss === undefined) throw new Error(`no /proc/${pid}/status`);
    return new MemoryWatch(pid, rss, intervalMs);
  }

  async sample(): Promise<void> {
    const rss = await rssOf(this.#pid);
    if (rss === undefined) return;
    this.samples++;
    this.last = rss;
    if (rss > this.peak) this.peak = rss;
  }

  get growthMB(): number {
    return (this.peak - this.baseline) / MB;
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  describe(): string {
    const mb = (bytes: number): string => (bytes / MB).toFixed(0);
    return `RSS ${mb(this.baseline)} MB before, peak ${mb(this.peak)} MB (+${this.growthMB.toFixed(0)} MB), last ${mb(this.last)} MB, ${this.samples} samples`;
  }
}

/** The node's heap as it reports it (undefined when it does not answer within `ms`: frozen). */
export async function heapOf(target: Target, ms = 2_000): Promise<string> {
  try {
    const { memory } = (await target.ask({ memory: true }, ms)) as { memory: NodeJS.MemoryUsage };
    const mb = (bytes: number): string => (bytes / MB).toFixed(0);
    return `heapUsed ${mb(memory.heapUsed)} MB, arrayBuffers ${mb(memory.arrayBuffers)} MB, external ${mb(memory.external)} MB`;
  } catch (error) {
    return `no answer (${(error as Error).message})`;
  }
}

export function describeReport(report: CallerReport): string {
  return (
    `${report.calls} calls in ${report.ranMs} ms: ${report.ok} ok, ${report.failed} failed` +
    `${report.failures.length > 0 ? ` (first: ${report.failures.slice(0, 3).join(" | ")})` : ""}, ` +
    `max ${report.maxMs} ms, p99 ${report.p99Ms} ms; target suspected ${report.suspected}×, down ${report.down}×` +
    `${report.events.length > 0 ? ` [${report.events.join(", ")}]` : ""}` +
    `${report.wrongValues.length > 0 ? `; wrong values: ${report.wrongValues.join(", ")}` : ""}`
  );
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What one attack did to the target, as the well-behaved caller and the memory watch saw it. */
export interface Outcome<T> {
  target: Target;
  result: T;
  report: CallerReport;
  memory: MemoryWatch;
  /** The target's own account of its heap after the attack (or that it did not answer). */
  heap: string;
  /** Phase timings (ms): starting both processes, the attack itself, the tail, the caller's report. */
  timings: { setupMs: number; attackMs: number; tailMs: number; reportMs: number };
}

/**
 * Starts a target (with `passphrase`) and a caller with the same secret, lets the caller warm up, then runs
 * `attack` while the caller keeps calling and the target's memory is sampled, keeps calling for `tailMs` after the
 * attack ends, and tears both processes down.
 */
export async function underAttack<T>(
  options: { passphrase?: string; warmupMs?: number; tailMs?: number },
  attack: (target: Target) => Promise<T>,
): Promise<Outcome<T>> {
  const t0 = performance.now();
  const callerProcess = spawnCaller();
  const target = await startTarget({ passphrase: options.passphrase }).catch(async (error: unknown) => {
    await callerProcess.kill();
    throw error;
  });
  let caller: Caller | undefined;
  let memory: MemoryWatch | undefined;
  try {
    caller = await callerProcess.join(target, { passphrase: options.passphrase });
    await caller.start();
    await sleep(options.warmupMs ?? 1_000);
    memory = await MemoryWatch.start(target.pid);
    const t1 = performance.now();
    const result = await attack(target);
    const t2 = performance.now();
    await sleep(options.tailMs ?? 2_000);
    const t3 = performance.now();
    const report = await caller.stop();
    await memory.sample();
    memory.stop();
    const heap = await heapOf(target);
    const timings = { setupMs: t1 - t0, attackMs: t2 - t1, tailMs: t3 - t2, reportMs: performance.now() - t3 };
    for (const key of Object.keys(timings) as Array<keyof typeof timings>) timings[key] = Math.round(timings[key]);
    return { target, result, report, memory, heap, timings };
  } finally {
    memory?.stop();
    await callerProcess.kill();
    await target.kill();
  }
}

/** The checks every attack shares: the caller was served throughout, and the target's memory stayed bounded. */
export function servedThroughout(outcome: Outcome<unknown>, memoryBoundMB: number): string[] {
  const { report, memory } = outcome;
  const problems: string[] = [];
  if (report.calls < 10) problems.push(`the caller made only ${report.calls} calls`);
  if (report.failed > 0) problems.push(`${report.failed} of the caller's ${report.calls} calls failed`);
  if (report.wrongValues.length > 0) problems.push(`replies out of order or repeated: ${report.wrongValues.join(", ")}`);
  if (report.suspected > 0 || report.down > 0) {
    problems.push(`the caller saw the target suspected ${report.suspected}× and down ${report.down}× (${report.events.join(", ")})`);
  }
  if (memory.growthMB > memoryBoundMB) problems.push(`the target's RSS grew by ${memory.growthMB.toFixed(0)} MB (bound ${memoryBoundMB} MB)`);
  return problems;
}

/** Connections the target holds from each of `peers` right now (undefined when it does not answer). */
export async function heldBy(target: Target, peers: ReadonlySet<string>): Promise<{ total: number; maxPerPeer: number; unadmitted: number } | undefined> {
  try {
    const { connections } = (await target.ask({ connections: true }, 1_000)) as {
      connections: Array<{ peer: string; status: string; admitted: boolean }>;
    };
    const perPeer = new Map<string, number>();
    let unadmitted = 0;
    for (const c of connections) {
      if (c.status !== "open") continue;
      if (!c.admitted) unadmitted++;
      if (peers.has(c.peer)) perPeer.set(c.peer, (perPeer.get(c.peer) ?? 0) + 1);
    }
    const counts = [...perPeer.values()];
    return { total: counts.reduce((a, b) => a + b, 0), maxPerPeer: Math.max(0, ...counts), unadmitted };
  } catch {
    return undefined;
  }
}

/** Samples `heldBy` every `intervalMs` until stopped; keeps the maxima. */
export function sampleHeld(target: Target, peers: ReadonlySet<string>, intervalMs = 200) {
  const seen = { total: 0, maxPerPeer: 0, unadmitted: 0, samples: 0, unanswered: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const held = await heldBy(target, peers);
      if (held === undefined) seen.unanswered++;
      else {
        seen.samples++;
        seen.total = Math.max(seen.total, held.total);
        seen.maxPerPeer = Math.max(seen.maxPerPeer, held.maxPerPeer);
        seen.unadmitted = Math.max(seen.unadmitted, held.unadmitted);
      }
      await sleep(intervalMs);
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
      return seen;
    },
  };
}
