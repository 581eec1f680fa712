/**
 * Several cluster nodes in one process (each a full node: its own libp2p, admission, membership, actors), for the
 * scale test: `node … multi-node.ts '<json { count, seeds, membership, prefix }>'`. Prints
 * `{ "ready": [nodeIds] }`, then answers one line per command:
 *   {"views": true}   → {"views": [[nodeId, [alive member ids], [public names]], …]}
 *   {"kill": i}       → {"killed": nodeId}   node i's libp2p stops at once: no goodbye, no leave
 */
import * as pul from "pulsing";
import { Counter } from "../fixtures/actors.js";

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

let buffered = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  buffered += chunk;
  let newline: number;
  while ((newline = buffered.indexOf("\n")) >= 0) {
    const command = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
    buffered = buffered.slice(newline + 1);
    void handle(command);
  }
});
process.stdin.on("end", () => void Promise.all(systems.map((s) => s.shutdown().catch(() => undefined))).then(() => process.exit(0)));

async function handle(command: Record<string, unknown>): Promise<void> {
  if ("views" in command) {
    say({
      views: systems.map((s) => [
        s.nodeId,
        s.members().filter((m) => m.status === "alive").map((m) => m.nodeId).sort(),
        s.members().flatMap((m) => m.actors).sort(),
      ]),
    });
  } else if ("kill" in command) {
    const victim = systems[command.kill as number]!;
    await (victim as unknown as { mesh: { node: { stop(): Promise<void> } } }).mesh.node.stop();
    say({ killed: victim.nodeId });
  }
}
