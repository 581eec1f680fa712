/**
 * A far process of `npm run bench -- queue` (started by `./queue.ts` through test/cluster/line-process.ts):
 * `node … queue-peer.ts '<json { count, seeds }>'` runs `count` actor systems on 127.0.0.1 (joined to `seeds`),
 * prints `{"ready": {nodeIds}}`, then answers one line per command:
 *   {"members": true}                       → {"alive": [alive members in each node's view]}
 *   {"subscribe": {topic}}                  → {"subscribed": n}   every node here starts a reader of `topic` that counts
 *   {"redisSubscribe": {port, channel, connections}} → {"subscribed": n}   that many ioredis subscriber connections
 *   {"await": {kind: "pulsing" | "redis", count, ms, quietMs?}} → {"reached": n} once the messages received here (of
 *                                             that kind, over all readers / connections) reach `count`; with `quietMs`,
 *                                             {"settled": n, "quietMs": ms since the last one} once none came for that
 *                                             long (a lossy mode); {"timedOut": n} after `ms`
 *   {"profileStart": true}                  → {"profiling": true}  starts a V8 CPU profile of this process
 *   {"profileStop": {path}}                 → {"profiled": path}   and writes it to `path`
 * It exits when its stdin closes (how the parent stops it, and what happens when the parent dies), or at a hard
 * time limit. Messages are parsed as a reader would (Redis payloads are JSON), then counted.
 */
import { writeFileSync } from "node:fs";
import { Redis } from "ioredis";
import * as pul from "pulsing";
import { onStdinCommands } from "../test/cluster/stdin-commands.js";

/** Far beyond the group's own budget: only a process orphaned in some unforeseen way ever hits it. */
const HARD_LIMIT_MS = 240_000;

const { count, seeds } = JSON.parse(process.argv[2] ?? "{}") as { count: number; seeds: string[] };
const say = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

const systems: pul.ActorSystem[] = [];
const subscribers: Redis[] = [];
const received = { pulsing: 0, redis: 0 };
const lastArrival = { pulsing: 0, redis: 0 };
let profiler: import("node:inspector/promises").Session | undefined;
/** Waits for a count, each checked when a message arrives. */
const waiters = new Set<{ kind: "pulsing" | "redis"; count: number; done: () => void }>();

function arrived(kind: "pulsing" | "redis"): void {
  const total = ++received[kind];
  lastArrival[kind] = performance.now();
  for (const waiter of waiters) if (waiter.kind === kind && total >= waiter.count) waiter.done();
}

let quitting = false;
async function quit(code: number): Promise<void> {
  if (quitting) return;
  quitting = true;
  setTimeout(() => process.exit(code), 5_000).unref(); // a shutdown that hangs must not keep us alive
  for (const subscriber of subscribers) subscriber.disconnect();
  await Promise.all(systems.map((s) => s.shutdown().catch(() => undefined)));
  process.exit(code);
}
setTimeout(() => void quit(3), HARD_LIMIT_MS).unref();
process.on("SIGTERM", () => void quit(0));

try {
  for (let i = 0; i < count; i++) systems.push(await pul.actorSystem({ addr: "127.0.0.1:0", seeds }));
  say({ ready: { nodeIds: systems.map((s) => s.nodeId), addrs: systems.map((s) => s.addrs) } });
} catch (error) {
  say({ error: { name: (error as Error).name, message: (error as Error).message } });
  await quit(1);
}

onStdinCommands(
  (command) => handle(command).catch((error: unknown) => say({ error: { name: (error as Error).name, message: (error as Error).message } })),
  () => void quit(0),
);

async function handle(command: Record<string, unknown>): Promise<void> {
  if ("members" in command) {
    say({ alive: systems.map((s) => s.members().filter((m) => m.status === "alive").length) });
  } else if ("subscribe" in command) {
    const { topic } = command.subscribe as { topic: string };
    for (const system of systems) {
      const reader = await system.topic.read(topic);
      reader.onMessage((message) => {
        if (typeof message !== "object" || message === null) throw new Error("unexpected message");
        arrived("pulsing");
      });
      await reader.start();
    }
    say({ subscribed: systems.length });
  } else if ("redisSubscribe" in command) {
    const { port, channel, connections } = command.redisSubscribe as { port: number; channel: string; connections: number };
    for (let i = 0; i < connections; i++) {
      const subscriber = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 1 });
      subscribers.push(subscriber);
      await subscriber.connect();
      subscriber.on("message", (_channel: string, payload: string) => {
        const message = JSON.parse(payload) as unknown;
        if (typeof message !== "object" || message === null) throw new Error("unexpected message");
        arrived("redis");
      });
      await subscriber.subscribe(channel);
    }
    say({ subscribed: subscribers.length });
  } else if ("await" in command) {
    const { kind, count: target, ms, quietMs } = command.await as { kind: "pulsing" | "redis"; count: number; ms: number; quietMs?: number };
    if (received[kind] >= target) return say({ reached: received[kind] });
    const since = performance.now();
    await new Promise<void>((resolve) => {
      const finish = (answer: Record<string, unknown>): void => {
        waiters.delete(waiter);
        clearTimeout(timer);
        clearInterval(quiet);
        say(answer);
        resolve();
      };
      const waiter = { kind, count: target, done: () => finish({ reached: received[kind] }) };
      const timer = setTimeout(() => finish({ timedOut: received[kind] }), ms);
      // A lossy mode: done once nothing came for `quietMs` (counted from this command when nothing came since).
      const quiet = setInterval(() => {
        if (quietMs === undefined) return;
        const last = Math.max(lastArrival[kind], since);
        if (performance.now() - last >= quietMs) finish({ settled: received[kind], quietMs: performance.now() - lastArrival[kind] });
      }, 20);
      waiters.add(waiter);
    });
  } else if ("profileStart" in command) {
    const { Session } = await import("node:inspector/promises");
    profiler = new Session();
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.start");
    say({ profiling: true });
  } else if ("profileStop" in command) {
    const { path } = command.profileStop as { path: string };
    const { profile } = await profiler!.post("Profiler.stop");
    writeFileSync(path, JSON.stringify(profile));
    profiler!.disconnect();
    profiler = undefined;
    say({ profiled: path });
  }
}
