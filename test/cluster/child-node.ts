/**
 * A cluster node in its own process, for multi-process tests: `node … child-node.ts '<json options>'`.
 * Registers the fixture actor classes, starts an actor system with the given options, prints one JSON line
 * `{ "ready": { nodeId, addrs } }` (or `{ "error": … }`), and runs until its stdin closes or it is killed.
 * Lines written to its stdin are commands: `{"spawn": {"cls": "Counter", "name": "c", "args": [1]}}`.
 */
import * as pul from "pulsing";
import * as fixtures from "../fixtures/actors.js";

interface ChildOptions extends pul.ActorSystemOptions {
  privateKeyHex?: string;
}

const raw = JSON.parse(process.argv[2] ?? "{}") as ChildOptions;
const { privateKeyHex, ...options } = raw;
if (privateKeyHex !== undefined) options.privateKey = Uint8Array.from(Buffer.from(privateKeyHex, "hex"));

const say = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

let system: pul.ActorSystem;
try {
  system = await pul.init(options);
  say({ ready: { nodeId: system.nodeId, addrs: system.addrs } });
} catch (error) {
  say({ error: { name: (error as Error).name, message: (error as Error).message } });
  process.exit(1);
}

let buffered = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk: string) => {
  buffered += chunk;
  let newline: number;
  while ((newline = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    void handle(JSON.parse(line) as Record<string, unknown>);
  }
});
process.stdin.on("end", () => void pul.shutdown().then(() => process.exit(0)));
process.on("SIGTERM", () => void pul.shutdown().then(() => process.exit(0)));

async function handle(command: Record<string, unknown>): Promise<void> {
  try {
    if ("spawn" in command) {
      const { cls, ...spawnOptions } = command.spawn as { cls: keyof typeof fixtures } & pul.SpawnOptions;
      const ref = await system.spawn(fixtures[cls], spawnOptions);
      say({ spawned: String(ref.actorId) });
    }
  } catch (error) {
    say({ error: { name: (error as Error).name, message: (error as Error).message } });
  }
}
