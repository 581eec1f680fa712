/**
 * Several cluster nodes in one process (each a full node: its own libp2p, admission, membership, actors), for the
 * scale test: `node … multi-node.ts '<json { count, seeds, membership, prefix }>'`. Prints
 * `{ "ready": [nodeIds] }`, then answers one line per command:
 *   {"views": true}   → {"views": [[nodeId, [alive member ids], [public names]], …]}
 *   {"kill": i}       → {"killed": nodeId}   node i's libp2p stops at once: no goodbye, no leave
 *   {"profile": {ms, path}} → {"profiled": path}  a V8 CPU profile of this process over `ms` (for benchmarks)
 *   {"traffic": true} → {"traffic": { gossipBytesIn, messagesIn, messagesOut, cpuMs, wireBytesOut, connectionsOpened, connectionsClosed }} summed over this
 *                       process's nodes (gossip bytes: bytes arriving on gossipsub streams; wire bytes: every byte
 *                       this process wrote — to its sockets, all protocols, after noise and yamux — from
 *                       /proc/self/io, or -1 where there is none)
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as pul from "pulsing";
import { Counter } from "../fixtures/actors.js";
import { onStdinCommands } from "./stdin-commands.js";

const { count, seeds, membership, prefix } = JSON.parse(process.argv[2] ?? "{}") as {
  count: number;
  seeds: string[];
  membership: pul.MembershipOptions;
  prefix: string;
};
const say = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

const systems: pul.ActorSystem[] = [];
for (let i = 0; i < count; i++) {
  const system = await pul.actorSystem({ addr: "127.0.0.1:0", seeds, membership });
  await system.spawn(Counter, { name: `${prefix}${i}`, args: [i] });
  systems.push(system);
}
say({ ready: systems.map((s) => s.nodeId) });

// Connections opened and closed (churn: a steady cluster keeps its connections).
let connectionsOpened = 0;
let connectionsClosed = 0;
for (const system of systems) {
  const node = (system as unknown as { mesh: { node: EventTarget } }).mesh.node;
  node.addEventListener("connection:open", () => void connectionsOpened++);
  node.addEventListener("connection:close", () => void connectionsClosed++);
}

// Count the bytes arriving on every gossipsub stream of these nodes.
let gossipBytesIn = 0;
const metered = new WeakSet<object>();
interface MeteredStream {
  protocol?: string;
  addEventListener(type: "message", listener: (event: { data: { byteLength: number } }) => void): void;
}
setInterval(() => {
  for (const system of systems) {
    const node = (system as unknown as { mesh?: { node: { getConnections(): Array<{ streams: MeteredStream[] }> } } }).mesh?.node;
    for (const connection of node?.getConnections() ?? []) {
      for (const stream of connection.streams) {
        if (metered.has(stream) || !stream.protocol?.startsWith("/meshsub")) continue;
        metered.add(stream);
        stream.addEventListener("message", (event) => void (gossipBytesIn += event.data.byteLength));
      }
    }
  }
}, 100).unref();

onStdinCommands(handle, () => void Promise.all(systems.map((s) => s.shutdown().catch(() => undefined))).then(() => process.exit(0)));

/** Bytes this process has written (Linux: /proc/self/io's wchar; sockets, almost all of it here). */
function bytesWritten(): number {
  try {
    return Number(/^wchar: (\d+)$/m.exec(readFileSync("/proc/self/io", "utf8"))?.[1] ?? -1);
  } catch {
    return -1;
  }
}

async function handle(command: Record<string, unknown>): Promise<void> {
  if ("views" in command) {
    say({
      views: systems.map((s) => [
        s.nodeId,
        s.members().filter((m) => m.status === "alive").map((m) => m.nodeId).sort(),
        s.members().flatMap((m) => m.actors).sort(),
      ]),
    });
  } else if ("traffic" in command) {
    const totals = systems.map((s) => s.membershipTraffic());
    const cpu = process.cpuUsage();
    say({
      traffic: {
        gossipBytesIn,
        messagesIn: totals.reduce((a, t) => a + t.messagesIn, 0),
        messagesOut: totals.reduce((a, t) => a + t.messagesOut, 0),
        cpuMs: (cpu.user + cpu.system) / 1000,
        wireBytesOut: bytesWritten(),
        connectionsOpened,
        connectionsClosed,
      },
    });
  } else if ("profile" in command) {
    const { ms, path } = command.profile as { ms: number; path: string };
    const { Session } = await import("node:inspector/promises");
    const session = new Session();
    session.connect();
    await session.post("Profiler.enable");
    await session.post("Profiler.start");
    await new Promise((resolve) => setTimeout(resolve, ms));
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(path, JSON.stringify(profile));
    session.disconnect();
    say({ profiled: path });
  } else if ("kill" in command) {
    const victim = systems[command.kill as number]!;
    await (victim as unknown as { mesh: { node: { stop(): Promise<void> } } }).mesh.node.stop();
    say({ killed: victim.nodeId });
  }
}
