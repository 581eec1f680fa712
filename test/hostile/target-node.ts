/**
 * The node under attack, in its own process: `node … target-node.ts '<json options>'`. A Pulsing node (a seed:
 * it listens, so it also runs the circuit relay for browser tabs) with a `Counter` under the public name
 * "counter" (its streaming method `count(n)` is what attack 1 calls) and a `Failer` under "failer".
 * Prints `{ "ready": { nodeId, addrs, counter, failer, pid } }` (local ids of the two actors), then answers
 * command lines on stdin (one JSON line each):
 *   {"memory": true}        → {"memory": process.memoryUsage()}
 *   {"connections": true}   → {"connections": [{ peer, id, direction, status, admitted, streams: [protocol…] }]}
 *   {"reservations": true}  → {"reservations": ["<peerId>", …]}   the relay server's reservation table
 * and runs until its stdin closes or it is killed. A node frozen by an attack answers nothing: the tests read its
 * memory from /proc instead and kill it at the end.
 */
import { createInterface } from "node:readline";
import * as pul from "pulsing";
import { Counter, Failer } from "../fixtures/actors.js";

interface TargetOptions {
  passphrase?: string;
  membership?: pul.MembershipOptions;
}

const options = JSON.parse(process.argv[2] ?? "{}") as TargetOptions;
const say = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

interface LibpNode {
  getConnections(): Array<{
    id: string;
    remotePeer: { toString(): string };
    direction: string;
    status: string;
    streams: Array<{ protocol?: string; direction: string }>;
  }>;
  services: Record<string, unknown>;
}
interface TargetMesh {
  node: LibpNode;
  isAdmitted(peer: string): boolean;
}

let system: pul.ActorSystem;
let counter: number;
let failer: number;
try {
  system = await pul.actorSystem({ addr: "127.0.0.1:0", passphrase: options.passphrase, membership: options.membership });
  counter = (await system.spawn(Counter, { name: "counter", public: true })).actorId.localId;
  failer = (await system.spawn(Failer, { name: "failer", public: true })).actorId.localId;
  say({ ready: { nodeId: system.nodeId, addrs: system.addrs, counter, failer, pid: process.pid } });
} catch (error) {
  say({ error: { name: (error as Error).name, message: (error as Error).message } });
  process.exit(1);
}

const mesh = (): TargetMesh => (system as unknown as { mesh: TargetMesh }).mesh;

createInterface({ input: process.stdin }).on("line", (line) => handle(JSON.parse(line) as Record<string, unknown>));
process.stdin.on("end", () => void system.shutdown().then(() => process.exit(0)));

function handle(command: Record<string, unknown>): void {
  try {
    if ("memory" in command) {
      say({ memory: process.memoryUsage() });
    } else if ("connections" in command) {
      const { node, isAdmitted } = mesh();
      say({
        connections: node.getConnections().map((c) => ({
          peer: c.remotePeer.toString(),
          id: c.id,
          direction: c.direction,
          status: c.status,
          admitted: isAdmitted.call(mesh(), c.remotePeer.toString()),
          streams: c.streams.map((s) => `${s.direction}:${s.protocol ?? "?"}`),
        })),
      });
    } else if ("reservations" in command) {
      const relay = mesh().node.services.relay as { reservations: { keys(): Iterable<{ toString(): string }> } } | undefined;
      say({ reservations: relay === undefined ? null : [...relay.reservations.keys()].map(String) });
    } else {
      say({ error: { message: `unknown command ${JSON.stringify(command)}` } });
    }
  } catch (error) {
    say({ error: { name: (error as Error).name, message: (error as Error).message } });
  }
}
