/**
 * A Deno cluster node for the e2e tests: `deno run -A --node-modules-dir=manual e2e/deno-node.ts '<json>'`.
 * Same actor code as everywhere (the `pulsing` package, built), same line protocol as test/cluster/child-node.ts:
 * prints `{"ready": {...}}`, then answers one line per command line on stdin.
 */
import * as pul from "pulsing";

// The little of Deno's API this file uses (Node's type-check does not know Deno's globals).
declare const Deno: {
  args: string[];
  version: { deno: string };
  stdout: { writeSync(data: Uint8Array): number };
  stdin: { readable: AsyncIterable<Uint8Array> };
  exit(code: number): never;
};

const options = JSON.parse(Deno.args[0] ?? "{}") as pul.ActorSystemOptions;

const DenoEcho = pul.remote(
  class DenoEcho {
    where(): { runtime: string; deno: string } {
      return { runtime: pul.currentContext().system.runtime, deno: Deno.version.deno };
    }
    echo<T>(value: T): T {
      return value;
    }
  },
);

const encoder = new TextEncoder();
const say = (message: unknown): void => void Deno.stdout.writeSync(encoder.encode(`${JSON.stringify(message)}\n`));

const system = await pul.init(options);
await DenoEcho.spawn({ name: "deno/echo" });
say({ ready: { nodeId: system.nodeId, addrs: system.addrs, runtime: system.runtime } });

const decoder = new TextDecoder();
let buffered = "";
for await (const chunk of Deno.stdin.readable) {
  buffered += decoder.decode(chunk, { stream: true });
  let newline: number;
  while ((newline = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    void handle(JSON.parse(line) as Record<string, unknown>);
  }
}
await pul.shutdown();
Deno.exit(0);

async function handle(command: Record<string, unknown>): Promise<void> {
  try {
    if ("call" in command) {
      const { name, method, args } = command.call as { name: string; method: string; args: unknown[] };
      const ref = await system.resolve(name, { timeout: 10_000 });
      const result = await ref.asAny()[method]!(...args);
      say({ result, nodeId: ref.actorId.nodeId });
    } else if ("members" in command) {
      say({ members: system.members() });
    }
  } catch (error) {
    say({ error: { name: (error as Error).name, message: (error as Error).message } });
  }
}
