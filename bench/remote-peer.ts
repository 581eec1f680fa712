/**
 * The far process of `npm run bench -- remote` (started by `./peer-process.ts`): an actor system on 127.0.0.1
 * with `BenchEcho` registered, the libp2p echo floor on the same libp2p node, and the `node:net` echo floor.
 * Prints one JSON line `{"ready":{nodeId,addrs,netPort}}` (or `{"error":…}`), then serves until its stdin
 * closes (how the parent stops it, and what happens when the parent dies), SIGTERM, or a hard time limit.
 * Exits through `system.shutdown()`, so `--cpu-prof` profiles get written.
 */
import * as pul from "pulsing";
import type { Server } from "node:net";
import "./remote-actors.js";
import { serveLibp2pFloor } from "./floors/libp2p-floor.js";
import { serveNetFloor } from "./floors/net-floor.js";

/** Far beyond the group's own budget: only a peer orphaned in some unforeseen way ever hits it. */
const HARD_LIMIT_MS = 180_000;

const say = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

let system: pul.ActorSystem | undefined;
let server: Server | undefined;
let quitting = false;

async function quit(code: number): Promise<void> {
  if (quitting) return;
  quitting = true;
  setTimeout(() => process.exit(code), 3_000).unref(); // a shutdown that hangs must not keep us alive
  server?.close();
  await system?.shutdown().catch(() => {});
  process.exit(code);
}

process.stdin.on("end", () => void quit(0));
process.stdin.resume();
process.on("SIGTERM", () => void quit(0));
setTimeout(() => void quit(3), HARD_LIMIT_MS).unref();

try {
  system = await pul.actorSystem({ addr: "127.0.0.1:0" });
  await serveLibp2pFloor(system.mesh!.node);
  server = await serveNetFloor();
  const { port } = server.address() as { port: number };
  say({ ready: { nodeId: system.nodeId, addrs: system.addrs, netPort: port } });
} catch (error) {
  say({ error: { name: (error as Error).name, message: (error as Error).message } });
  await quit(1);
}
