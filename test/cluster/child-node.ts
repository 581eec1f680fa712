/**
 * A cluster node in its own process, for multi-process tests: `node … child-node.ts '<json options>'`.
 * Registers the fixture actor classes, starts an actor system with the given options, prints one JSON line
 * `{ "ready": { nodeId, addrs } }` (or `{ "error": … }`), and runs until its stdin closes or it is killed.
 * With `callAfterInit: { actorId, method, args?, timeout? }` among the options it calls that actor right after
 * `init()` returns, before printing, and adds `called: { result } | { error }` and `calledMs` to the ready line;
 * with `spawnAfterInit: { cls, args? }` it spawns an anonymous actor first and adds its id (`spawned`).
 * Lines written to its stdin are commands, each answered with one line:
 *   {"spawn": {"cls": "Counter", "name": "c", "args": [1]}}   → {"spawned": "<actorId>"}
 *   {"call": {"name": "c", "method": "incr", "args": [], "timeout": 5000}} → {"result": …, "nodeId": …}
 *   {"callId": {"actorId": "<id>", "method": "incr", "args": [], "timeout": 5000}} → {"result": …, "ms": …}
 *   {"members": true}                                     → {"members": [...]}
 *   {"burn": {"ms": 60000, "busyMs": 90, "idleMs": 10}}  → {"ok": true} at once; then keeps the CPU busy
 */
import * as pul from "pulsing";
import * as fixtures from "../fixtures/actors.js";
import { onStdinCommands } from "./stdin-commands.js";

interface CallById {
  actorId: string;
  method: string;
  args?: unknown[];
  timeout?: number;
}

interface ChildOptions extends pul.ActorSystemOptions {
  privateKeyHex?: string;
  callAfterInit?: CallById;
  spawnAfterInit?: { cls: keyof typeof fixtures; args?: unknown[] };
}

const raw = JSON.parse(process.argv[2] ?? "{}") as ChildOptions;
const { privateKeyHex, callAfterInit, spawnAfterInit, ...options } = raw;
if (privateKeyHex !== undefined) options.privateKey = Uint8Array.from(Buffer.from(privateKeyHex, "hex"));

const say = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);

let system: pul.ActorSystem;
try {
  system = await pul.init(options);
  if (spawnAfterInit !== undefined) {
    const ref = await system.spawn(fixtures[spawnAfterInit.cls], { args: spawnAfterInit.args });
    say({ ready: { nodeId: system.nodeId, addrs: system.addrs, spawned: String(ref.actorId) } });
  } else if (callAfterInit === undefined) {
    say({ ready: { nodeId: system.nodeId, addrs: system.addrs } });
  } else {
    const started = performance.now();
    const called = await callById(callAfterInit).then(
      (result) => ({ result }),
      (error: unknown) => ({ error: describeError(error) }),
    );
    say({ ready: { nodeId: system.nodeId, addrs: system.addrs, called, calledMs: performance.now() - started } });
  }
} catch (error) {
  say({ error: { name: (error as Error).name, message: (error as Error).message } });
  process.exit(1);
}

onStdinCommands(handle, () => void pul.shutdown().then(() => process.exit(0)));
process.on("SIGTERM", () => void pul.shutdown().then(() => process.exit(0)));

async function callById({ actorId, method, args, timeout }: CallById): Promise<unknown> {
  const ref = await system.refer(actorId);
  return ref.invoke(method, args ?? [], "ask", timeout === undefined ? undefined : { timeout }).promise;
}

function describeError(error: unknown): { name: string; message: string; code?: unknown } {
  const { name, message, code } = error as { name: string; message: string; code?: unknown };
  return { name, message, code };
}

async function handle(command: Record<string, unknown>): Promise<void> {
  try {
    if ("spawn" in command) {
      const { cls, ...spawnOptions } = command.spawn as { cls: keyof typeof fixtures } & pul.SpawnOptions;
      const ref = await system.spawn(fixtures[cls], spawnOptions);
      say({ spawned: String(ref.actorId) });
    } else if ("call" in command) {
      const { name, method, args, timeout } = command.call as { name: string; method: string; args: unknown[]; timeout?: number };
      const ref = await system.resolve(name, { timeout: timeout ?? 5_000 });
      const result = await ref.invoke(method, args, "ask", { timeout: timeout ?? 5_000 }).promise;
      say({ result, nodeId: ref.actorId.nodeId });
    } else if ("callId" in command) {
      const started = performance.now();
      const result = await callById(command.callId as CallById);
      say({ result, ms: performance.now() - started });
    } else if ("members" in command) {
      say({ members: system.members() });
    } else if ("burn" in command) {
      const { ms, busyMs, idleMs } = command.burn as { ms: number; busyMs: number; idleMs: number };
      say({ ok: true });
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const stop = Date.now() + busyMs;
        while (Date.now() < stop) Math.sqrt(Math.random());
        await new Promise((resolve) => setTimeout(resolve, idleMs));
      }
    }
  } catch (error) {
    say({ error: describeError(error) });
  }
}
