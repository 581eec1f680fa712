/**
 * The well-behaved cluster member, in its own process: `node … caller-node.ts`. It loads (started while the target
 * starts), waits for `{"join": CallerOptions}` on stdin, joins the target (its seed, same passphrase) and prints
 * `{ "ready": { nodeId } }`; then it calls the target's counter (`incr()`, one call at a time, a new one
 * `intervalMs` after the last one ended, each with a `timeoutMs` deadline) from `{"start": true}` until
 * `{"stop": true}`, and watches what membership says about the target. Commands:
 *   {"start": true}   → {"ok": true}
 *   {"report": true}  → {"report": Report}      (so far; the loop goes on)
 *   {"stop": true}    → {"report": Report}      (after the call in flight ends)
 * `incr()` answers 1, 2, 3 …: a reply lost, doubled or out of order shows as a wrong value.
 */
import { createInterface } from "node:readline";
import * as pul from "pulsing";

interface CallerOptions {
  seed: string;
  passphrase?: string;
  target: string;
  counter: number;
  intervalMs: number;
  timeoutMs: number;
  membership?: pul.MembershipOptions;
}

export interface CallerReport {
  calls: number;
  ok: number;
  failed: number;
  /** The first failures, as "<ms since start>: <name> (<code>): <message>". */
  failures: string[];
  /**
   * Replies whose value was not the previous one + 1 (or, after a failed call, that one may have run anyway: not
   * above the previous one): a reply lost, repeated or out of order.
   */
  wrongValues: string[];
  maxMs: number;
  p99Ms: number;
  /** What membership said about the target, as "<ms since start>: <event>". */
  events: string[];
  suspected: number;
  down: number;
  /** How long the loop ran. */
  ranMs: number;
}

const say = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

const stdinLines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const nextLine = async (): Promise<string> => {
  const next = await stdinLines.next();
  // stdin closed: the "end" handler below shuts down; nothing more to read meanwhile
  return next.done === true ? new Promise<string>(() => {}) : next.value;
};

const { join: options } = JSON.parse(await nextLine()) as { join: CallerOptions };
let system: pul.ActorSystem;
try {
  system = await pul.actorSystem({
    addr: "127.0.0.1:0",
    seeds: [options.seed],
    passphrase: options.passphrase,
    membership: options.membership,
  });
  say({ ready: { nodeId: system.nodeId } });
} catch (error) {
  say({ error: { name: (error as Error).name, message: (error as Error).message } });
  process.exit(1);
}

const started = performance.now();
const since = (): number => Math.round(performance.now() - started);
const report: CallerReport = {
  calls: 0,
  ok: 0,
  failed: 0,
  failures: [],
  wrongValues: [],
  maxMs: 0,
  p99Ms: 0,
  events: [],
  suspected: 0,
  down: 0,
  ranMs: 0,
};
const latencies: number[] = [];
for (const type of ["member:up", "member:suspect", "member:down"] as const) {
  system.addEventListener(type, (event) => {
    if (event.detail.nodeId !== options.target) return;
    report.events.push(`${since()}: ${type}`);
    if (type === "member:suspect") report.suspected++;
    if (type === "member:down") report.down++;
  });
}

let running = false;
let loop: Promise<void> | undefined;
let loopStarted = 0;

async function callLoop(): Promise<void> {
  const ref = await system.refer(`${options.target}:${options.counter}`);
  let last: number | undefined;
  let failedSinceLast = false;
  while (running) {
    const t0 = performance.now();
    report.calls++;
    try {
      const value = (await ref.invoke("incr", [], "ask", { timeout: options.timeoutMs }).promise) as number;
      const ms = performance.now() - t0;
      latencies.push(ms);
      report.maxMs = Math.max(report.maxMs, Math.round(ms));
      report.ok++;
      const wrong = last !== undefined && (failedSinceLast ? value <= last : value !== last + 1);
      if (wrong && report.wrongValues.length < 10) report.wrongValues.push(`${since()}: got ${value} after ${last}`);
      last = value;
      failedSinceLast = false;
    } catch (error) {
      report.failed++;
      failedSinceLast = true;
      const { name, message, code } = error as { name: string; message: string; code?: unknown };
      if (report.failures.length < 10) report.failures.push(`${since()}: ${name} (${String(code)}): ${message}`);
    }
    const wait = Math.max(0, options.intervalMs - (performance.now() - t0));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

function snapshot(): CallerReport {
  const sorted = [...latencies].sort((a, b) => a - b);
  report.p99Ms = sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]!);
  report.ranMs = loopStarted === 0 ? 0 : Math.round(performance.now() - loopStarted);
  return { ...report, failures: [...report.failures], wrongValues: [...report.wrongValues], events: [...report.events] };
}

process.stdin.on("end", () => void system.shutdown().then(() => process.exit(0)));
void (async () => {
  for (;;) await handle(JSON.parse(await nextLine()) as Record<string, unknown>);
})();

async function handle(command: Record<string, unknown>): Promise<void> {
  if ("start" in command) {
    if (!running) {
      running = true;
      loopStarted = performance.now();
      loop = callLoop().catch((error: unknown) => {
        report.failures.push(`${since()}: the loop failed: ${(error as Error).message}`);
      });
    }
    say({ ok: true });
  } else if ("report" in command) {
    say({ report: snapshot() });
  } else if ("stop" in command) {
    running = false;
    await loop;
    say({ report: snapshot() });
  } else {
    say({ error: { message: `unknown command ${JSON.stringify(command)}` } });
  }
}
