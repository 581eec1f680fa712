/**
 * A Deno cluster node for the e2e tests: `deno run -A --node-modules-dir=manual e2e/deno-node.ts '<json>'`.
 * Same actor code as everywhere (the `pulsing` package, built), same line protocol as test/cluster/child-node.ts:
 * prints `{"ready": {...}}`, then answers one line per command line on stdin (send the next command after the
 * answer: answers come in the order the commands finish).
 *
 * Commands: `call` and `members` (cluster.e2e.ts); and for the toolkit under Deno (deno-toolkit.e2e.ts): `run` and
 * `spawnLines` (processes, here or on another node), `llm` (a model endpoint, invoke or stream), `spawnAgent`,
 * `listAgents` and `stream` (agents), `spawnWorkers`, `spawnInWorker`, `terminateWorkers` and `connections`
 * (worker threads). A failed command answers `{"error": {name, message, code, …}}`.
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

/**
 * The agent toolkit, loaded by the first command that needs it (until then this node runs no agent code, as
 * before: cluster.e2e.ts's Deno node has no agent directory), with `DenoScribe`: an agent whose tokens come from
 * a model endpoint, streamed through the actor (an actor stream).
 */
let agentToolkit: ReturnType<typeof loadAgentToolkit> | undefined;
async function loadAgentToolkit() {
  const toolkit = await import("pulsing/agent");
  const DenoScribe = toolkit.agent({ role: "Deno scribe", goal: "Drafts text under Deno", runtime: "deno" })(
    class DenoScribe {
      async *draft(baseURL: string, model: string, topic: string): AsyncGenerator<string, void, undefined> {
        yield* (await toolkit.llm({ baseURL, model, maxRetries: 0 })).stream(`Write about ${topic}`);
      }
    },
  );
  return { ...toolkit, DenoScribe };
}

/** e2e/deno-worker.ts: the module the workers run, and the class spawned into them (registered here too). */
const WORKER_MODULE = new URL("./deno-worker.ts", import.meta.url);

const encoder = new TextEncoder();
const say = (message: unknown): void => void Deno.stdout.writeSync(encoder.encode(`${JSON.stringify(message)}\n`));

const system = await pul.init(options);
await DenoEcho.spawn({ name: "deno/echo" });
say({ ready: { nodeId: system.nodeId, addrs: system.addrs, runtime: system.runtime } });

let workers: Array<{ nodeId: string; terminate(): Promise<void> }> = [];
let startedWorkers = false;

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
await Promise.all(workers.map((w) => w.terminate()));
await pul.shutdown();
// Otherwise the process ends by itself once shut down (deno-toolkit.e2e.ts checks it). A Deno parent whose worker
// held a relay reservation on it does not (README: "Deno"), so that one exits here.
if (startedWorkers) Deno.exit(0);

async function handle(command: Record<string, unknown>): Promise<void> {
  try {
    say(await answer(command));
  } catch (error) {
    say({ error: describe(error) });
  }
}

async function answer(command: Record<string, unknown>): Promise<Record<string, unknown>> {
  if ("call" in command) {
    const { name, method, args } = command.call as { name: string; method: string; args: unknown[] };
    const ref = await system.resolve(name, { timeout: 10_000 });
    const result = await ref.asAny()[method]!(...args);
    return { result, nodeId: ref.actorId.nodeId };
  }
  if ("members" in command) return { members: system.members() };
  if ("connections" in command) return { connections: system.connections() };
  if ("run" in command) {
    // subprocess.run here (no `node` in the options) or on another node; a failure answers with its fields.
    const { args, options } = command.run as { args: string[]; options?: pul.RunOptions };
    const done = await pul.subprocess.run(args, { ...options, encoding: options?.encoding ?? "utf8" });
    return { done };
  }
  if ("spawnLines" in command) {
    // subprocess.spawn: one line written to stdin, then the next once the process echoed it back on stdout.
    const { args, lines, node } = command.spawnLines as { args: string[]; lines: string[]; node?: string };
    const p = await pul.subprocess.spawn(args, node !== undefined ? { node } : {});
    const guard = setTimeout(() => void p.kill("SIGKILL"), 20_000); // a lost line fails instead of hanging
    try {
      const heard: string[] = [];
      await p.stdin.write(`${lines[0]}\n`);
      for await (const line of p.stdout.lines()) {
        heard.push(line);
        if (heard.length < lines.length) await p.stdin.write(`${lines[heard.length]}\n`);
        else if (heard.length === lines.length) await p.stdin.end();
      }
      const exit = await p.wait();
      return { heard, exit, nodeId: p.nodeId, pid: p.pid ?? null, self: system.nodeId };
    } finally {
      clearTimeout(guard);
    }
  }
  if ("llm" in command) {
    const { baseURL, model, prompt, stream } = command.llm as { baseURL: string; model: string; prompt: string; stream?: boolean };
    const { llm } = await (agentToolkit ??= loadAgentToolkit());
    const client = await llm({ baseURL, model, maxRetries: 0 });
    if (stream !== true) return { text: await client.invoke(prompt) };
    const tokens: string[] = [];
    for await (const token of client.stream(prompt)) tokens.push(token);
    return { tokens };
  }
  if ("spawnAgent" in command) {
    const { name } = command.spawnAgent as { name: string };
    const { DenoScribe } = await (agentToolkit ??= loadAgentToolkit());
    await DenoScribe.spawn({ name, public: true });
    return { nodeId: system.nodeId };
  }
  if ("listAgents" in command) {
    const { timeout } = command.listAgents as { timeout?: number };
    const { listAgents } = await (agentToolkit ??= loadAgentToolkit());
    return { agents: await listAgents(timeout !== undefined ? { timeout } : {}) };
  }
  if ("stream" in command) {
    // A stream from an actor anywhere (an agent's tokens), read to its end here.
    const { name, method, args } = command.stream as { name: string; method: string; args: unknown[] };
    const ref = await system.resolve(name, { timeout: 10_000 });
    const items: unknown[] = [];
    for await (const item of ref.asAny()[method]!(...args) as AsyncIterable<unknown>) items.push(item);
    return { items, nodeId: ref.actorId.nodeId };
  }
  if ("spawnWorkers" in command) {
    // `module`: another worker module than e2e/deno-worker.ts (a URL, or a path relative to e2e/): one that never joins.
    const { n, timeout, module } = command.spawnWorkers as { n: number; timeout?: number; module?: string };
    const { spawnWorkers } = await import("pulsing/node");
    const started = await spawnWorkers(n, module !== undefined ? new URL(module, WORKER_MODULE) : WORKER_MODULE, timeout !== undefined ? { timeout } : {});
    workers.push(...started);
    startedWorkers = true;
    return { workers: started.map((w) => w.nodeId) };
  }
  if ("spawnInWorker" in command) {
    // Spawned from here into a worker's node, then called from here.
    const { node, name } = command.spawnInWorker as { node: string; name: string };
    const { DenoCruncher } = (await import(WORKER_MODULE.href)) as typeof import("./deno-worker.js");
    const ref = await system.spawn(DenoCruncher, { node, name, public: true });
    const cruncher = ref.asType(DenoCruncher);
    return { nodeId: ref.actorId.nodeId, sum: await cruncher.sum(1_000), where: await cruncher.where() };
  }
  if ("terminateWorkers" in command) {
    const stopping = workers;
    workers = [];
    await Promise.all(stopping.map((w) => w.terminate()));
    return { terminated: stopping.map((w) => w.nodeId) };
  }
  throw new Error(`unknown command ${JSON.stringify(command)}`);
}

/** An error as the tests check it: its class, code, message and, for a failed process, what it returned. */
function describe(error: unknown): Record<string, unknown> {
  const e = error as Error & Partial<pul.ProcessFailedError> & { code?: unknown };
  return {
    name: e.name,
    message: e.message,
    ...(e.code !== undefined && { code: e.code }),
    ...(error instanceof pul.ProcessFailedError && {
      processFailed: true,
      exitCode: e.exitCode,
      signal: e.signal,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  };
}
