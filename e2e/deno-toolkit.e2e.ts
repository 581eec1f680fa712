/**
 * Issue 13's toolkit under Deno: processes (`subprocess.run` / `spawn`, here and across nodes both ways), the agent
 * toolkit (`llm()` against a model server on loopback, `agent()` and `listAgents()` across a Node and a Deno node,
 * an agent's token stream read from the other runtime) and worker threads as nodes (`spawnWorkers` from a Deno
 * parent, through Deno's `node:worker_threads`).
 *
 * The cluster: the fixtures' Node seed (which does not serve processes), a Deno node (running dist/,
 * e2e/deno-node.ts) that serves processes — this file's `deno` — and a second Node seed in this process that
 * serves processes (the fixtures' `procSeed`). The model servers (examples/fake-llm-server.ts) run in this process. No browser.
 */
import assert from "node:assert/strict";
import * as pul from "pulsing";
import { agent, listAgents, llm, type AgentInfo } from "pulsing/agent";
import { startFakeLlmServer, type FakeLlmServer } from "../examples/fake-llm-server.js";
import { tcpAddr } from "../test/cluster/harness.js";
import { eventually } from "../test/helpers.js";
import { test as cluster } from "./fixtures.js";
import { startDenoNode } from "./harness.js";

/** The failure-detection bound (3 s on loopback), with slack for a loaded 2-core machine. */
const DETECTION_BOUND_MS = 6_000;
/** Node's binary: the commands that need a script run it (the Deno node runs on the same machine). */
const NODE = process.execPath;

/** What the model servers answer: deterministic, several words (tokens) long. */
const reply = (prompt: string): string => `Under any runtime, "${prompt}" gets this answer, one word at a time.`;
const lastUser = (messages: Array<{ role: string; content: string }>): string => messages.filter((m) => m.role === "user").at(-1)?.content ?? "";

/** An agent on the Node seed whose tokens come from the model server (the Deno node has `DenoScribe`). */
const NodeScribe = agent({ role: "Node scribe", goal: "Drafts text under Node", runtime: "node" })(
  class NodeScribe {
    async *draft(baseURL: string, model: string, topic: string): AsyncGenerator<string, void, undefined> {
      yield* (await llm({ baseURL, model, maxRetries: 0 })).stream(`Write about ${topic}`);
    }
  },
);

type Answer = Record<string, unknown>;
type ErrorAnswer = { name: string; message: string; code?: string; processFailed?: boolean; exitCode?: number | null; signal?: string | null; stdout?: string; stderr?: string };

const test = cluster.extend<{}, { model: FakeLlmServer; slowModel: FakeLlmServer }>({
  /** This file's Deno node serves processes (`serveProcesses: true`, with a label to be placed by). */
  deno: [
    async ({ seed }, use) => {
      const deno = await startDenoNode({ seeds: [tcpAddr(seed.system)], serveProcesses: true, resources: { labels: { runtime: "deno" } } });
      await use(deno);
      await deno.stop();
    },
    { scope: "worker", timeout: 90_000 },
  ],
  model: [
    async ({}, use) => {
      const server = await startFakeLlmServer({ reply: (request) => reply(lastUser(request.messages)) });
      await use(server);
      await server.close();
    },
    { scope: "worker" },
  ],
  /** Streams 300 tokens, one every 20 ms: a reader that stops early stops it mid-reply. */
  slowModel: [
    async ({}, use) => {
      const server = await startFakeLlmServer({ tokenDelayMs: 20, reply: () => Array.from({ length: 300 }, (_, i) => `w${i}`).join(" ") });
      await use(server);
      await server.close();
    },
    { scope: "worker" },
  ],
});

/** The answer of a command that must succeed. */
async function ok(deno: { command(c: unknown): Promise<Answer> }, command: unknown): Promise<Answer> {
  const answer = await deno.command(command);
  assert.ok(!("error" in answer), `the Deno node failed ${JSON.stringify(command).slice(0, 200)}: ${JSON.stringify(answer.error)}`);
  return answer;
}

/** The error a command must fail with. */
async function failed(deno: { command(c: unknown): Promise<Answer> }, command: unknown): Promise<ErrorAnswer> {
  const answer = await deno.command(command);
  assert.ok("error" in answer, `the Deno node did not fail ${JSON.stringify(command).slice(0, 200)}: ${JSON.stringify(answer)}`);
  return answer.error as ErrorAnswer;
}

/** Waits until `nodeIds` are alive members in `view` (a node runs processes only on members it knows). */
async function knows(view: () => pul.Member[] | Promise<pul.Member[]>, nodeIds: string[], timeoutMs = 20_000): Promise<void> {
  await eventually(async () => {
    const members = await view();
    for (const nodeId of nodeIds) {
      assert.equal(members.find((m) => m.nodeId === nodeId)?.status, "alive", `${nodeId} is not (yet) an alive member`);
    }
  }, timeoutMs, 50);
}

const denoMembers = (deno: { command(c: unknown): Promise<Answer> }) => async () => (await ok(deno, { members: true })).members as pul.Member[];

test.describe("the toolkit under Deno: processes, agents, worker threads", () => {
  test.describe.configure({ mode: "serial" });

  test.beforeAll(async ({ seed, procSeed, deno }) => {
    await knows(() => seed.system.members(), [deno.nodeId, procSeed.system.nodeId]);
    await knows(denoMembers(deno), [seed.system.nodeId, procSeed.system.nodeId]);
  });

  test("subprocess.run on Deno, locally: captured output, input, check: true and timeout", async ({ deno }) => {
    const script = `process.stdout.write("out ✓\\n"); process.stderr.write("err\\n");`;
    const done = (await ok(deno, { run: { args: [NODE, "-e", script], options: { captureOutput: true, timeout: 10_000 } } })).done as pul.CompletedProcess<string>;
    assert.deepEqual(done, { args: [NODE, "-e", script], exitCode: 0, signal: null, stdout: "out ✓\n", stderr: "err\n" });

    const fed = (await ok(deno, { run: { args: ["cat"], options: { input: "fed through stdin\nsecond line\n", captureOutput: true, timeout: 10_000 } } })).done as pul.CompletedProcess<string>;
    assert.equal(fed.exitCode, 0);
    assert.equal(fed.stdout, "fed through stdin\nsecond line\n");

    const failing = `process.stdout.write("partial\\n"); process.stderr.write("boom: it failed\\n"); process.exit(3);`;
    const error = await failed(deno, { run: { args: [NODE, "-e", failing], options: { captureOutput: true, check: true, timeout: 10_000 } } });
    assert.equal(error.code, "PROCESS_FAILED", JSON.stringify(error));
    assert.equal(error.processFailed, true, "a ProcessFailedError");
    assert.equal(error.exitCode, 3);
    assert.equal(error.signal, null);
    assert.equal(error.stdout, "partial\n");
    assert.equal(error.stderr, "boom: it failed\n");
    assert.match(error.message, /exited with code 3: boom: it failed/);

    const started = Date.now();
    const timedOut = await failed(deno, { run: { args: ["sleep", "30"], options: { timeout: 500 } } });
    const took = Date.now() - started;
    assert.equal(timedOut.code, "TIMEOUT", JSON.stringify(timedOut));
    assert.match(timedOut.message, /timed out after 500ms; the process was killed \(SIGKILL\)/);
    assert.ok(took < 10_000, `run() with timeout 500 took ${took} ms`);

    const missing = await failed(deno, { run: { args: ["pulsing-no-such-command"], options: {} } });
    assert.equal(missing.code, "PROCESS_FAILED", JSON.stringify(missing));
    assert.match(missing.message, /could not start 'pulsing-no-such-command'/);
  });

  test("subprocess.spawn on Deno, locally: cat echoes stdin to stdout line by line, then exits 0", async ({ deno }) => {
    const lines = ["hello from Deno", "ünïcødé ✓", "last line"];
    const answer = await ok(deno, { spawnLines: { args: ["cat"], lines } });
    assert.deepEqual(answer.heard, lines);
    assert.deepEqual(answer.exit, { exitCode: 0, signal: null });
    assert.equal(answer.nodeId, deno.nodeId, "a local process is on the Deno node");
    assert.equal(typeof answer.pid, "number");
  });

  test("a Node node runs processes on the Deno node that serves them", async ({ seed, deno }) => {
    const system = seed.system;
    // Enough output for several 64 KiB chunks, streamed from the Deno runner to this node.
    const LINES = 40_000;
    const script = `let s = ""; for (let i = 0; i < ${LINES}; i++) s += "line " + i + "\\n"; process.stdout.write(s); process.stderr.write("done\\n");`;
    const done = await pul.subprocess.run([NODE, "-e", script], { node: deno.nodeId, system, captureOutput: true, encoding: "utf8", check: true, timeout: 30_000 });
    assert.equal(done.exitCode, 0);
    assert.equal(done.stderr, "done\n");
    const expected = Array.from({ length: LINES }, (_, i) => `line ${i}\n`).join("");
    assert.equal(done.stdout!.length, expected.length, "the output's length");
    assert.ok(done.stdout === expected, "the output came back changed");

    // stdin and stdout line by line, over the mesh.
    const p = await pul.subprocess.spawn(["cat"], { node: deno.nodeId, system });
    assert.equal(p.nodeId, deno.nodeId);
    const guard = setTimeout(() => void p.kill("SIGKILL"), 20_000);
    const said = ["to Deno", "and back ✓"];
    const heard: string[] = [];
    try {
      await p.stdin.write(`${said[0]}\n`);
      for await (const line of p.stdout.lines()) {
        heard.push(line);
        if (heard.length < said.length) await p.stdin.write(`${said[heard.length]}\n`);
        else if (heard.length === said.length) await p.stdin.end();
      }
      assert.deepEqual(await p.wait(), { exitCode: 0, signal: null });
    } finally {
      clearTimeout(guard);
    }
    assert.deepEqual(heard, said);

    // check: true across nodes, and placement by the label the Deno node offers.
    await assert.rejects(
      pul.subprocess.run([NODE, "-e", `process.stderr.write("bad\\n"); process.exit(4)`], { node: deno.nodeId, system, captureOutput: true, encoding: "utf8", check: true }),
      (error: pul.ProcessFailedError) => error.code === "PROCESS_FAILED" && error.exitCode === 4 && error.stderr === "bad\n",
    );
    const placed = await pul.subprocess.spawn(["sh", "-c", "echo placed"], { resources: { labels: { runtime: "deno" } }, system });
    assert.equal(placed.nodeId, deno.nodeId, "placed on the node offering the label");
    assert.equal(await placed.stdout.text(), "placed\n");
    assert.deepEqual(await placed.wait(), { exitCode: 0, signal: null });
  });

  test("the Deno runner kills a caller's processes when the caller's node goes down", async ({ seed, deno }) => {
    const caller = await pul.actorSystem({ seeds: [tcpAddr(seed.system)] });
    let pid: number | undefined;
    try {
      await knows(() => caller.members(), [deno.nodeId]);
      const p = await pul.subprocess.spawn(["sleep", "60"], { node: deno.nodeId, system: caller, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      pid = p.pid;
      assert.equal(typeof pid, "number");
      assert.doesNotThrow(() => process.kill(pid!, 0), "the process runs");
    } finally {
      await caller.shutdown();
    }
    await eventually(() => assert.throws(() => process.kill(pid!, 0), /ESRCH/, `process ${pid} still runs`), DETECTION_BOUND_MS + 4_000, 100);
  });

  test("the Deno node runs processes on a Node node that serves them, and is refused by one that does not", async ({ seed, procSeed, deno }) => {
    const node = procSeed.system.nodeId;
    const script = `process.stdout.write("ran on " + process.pid + "\\n"); process.stderr.write("from node\\n");`;
    const done = (await ok(deno, { run: { args: [NODE, "-e", script], options: { node, captureOutput: true, check: true, timeout: 20_000 } } })).done as pul.CompletedProcess<string>;
    assert.equal(done.exitCode, 0);
    assert.match(done.stdout!, /^ran on \d+\n$/);
    assert.equal(done.stderr, "from node\n");

    const lines = ["from Deno to a Node runner", "ünïcødé ✓"];
    const spawned = await ok(deno, { spawnLines: { args: ["cat"], lines, node } });
    assert.deepEqual(spawned.heard, lines);
    assert.deepEqual(spawned.exit, { exitCode: 0, signal: null });
    assert.equal(spawned.nodeId, node, "the process ran on the Node runner");
    assert.equal(spawned.self, deno.nodeId);

    const failing = await failed(deno, { run: { args: [NODE, "-e", "process.exit(5)"], options: { node, check: true, captureOutput: true } } });
    assert.equal(failing.code, "PROCESS_FAILED", JSON.stringify(failing));
    assert.equal(failing.exitCode, 5);

    const refused = await failed(deno, { run: { args: ["echo", "should not run"], options: { node: seed.system.nodeId, captureOutput: true } } });
    assert.equal(refused.code, "PROCESSES_NOT_SERVED", JSON.stringify(refused));
    assert.match(refused.message, /serveProcesses/);
  });

  test("llm() on Deno: invoke and stream from a model server on loopback, and its errors", async ({ deno, model }) => {
    const before = model.requests.length;
    const invoked = await ok(deno, { llm: { baseURL: model.baseURL, model: "fake-model", prompt: "hello from Deno" } });
    assert.equal(invoked.text, reply("hello from Deno"));

    const streamed = await ok(deno, { llm: { baseURL: model.baseURL, model: "fake-model", prompt: "stream to Deno", stream: true } });
    const tokens = streamed.tokens as string[];
    assert.equal(tokens.join(""), reply("stream to Deno"));
    assert.ok(tokens.length > 5, `the reply came as one token: ${JSON.stringify(tokens)}`);
    const requests = model.requests.slice(before);
    assert.deepEqual(requests.map((r) => [r.model, r.stream, r.finished, lastUser(r.messages)]), [
      ["fake-model", false, true, "hello from Deno"],
      ["fake-model", true, true, "stream to Deno"],
    ]);
    assert.equal(requests[1]!.tokensSent, tokens.length, "every token the server sent reached Deno, one by one");

    const upstream = await failed(deno, { llm: { baseURL: model.baseURL, model: "http-503", prompt: "x" } });
    assert.equal(upstream.code, "UPSTREAM_FAILED", JSON.stringify(upstream));
    assert.match(upstream.message, /answered HTTP 503/);
  });

  test("agents on a Node and a Deno node: listAgents() on both lists both; each reads the other's token stream", async ({ seed, deno, model, slowModel }) => {
    await seed.system.spawn(NodeScribe, { name: "toolkit/node-scribe", public: true });
    assert.equal((await ok(deno, { spawnAgent: { name: "toolkit/deno-scribe" } })).nodeId, deno.nodeId);

    const expected = (agents: Record<string, AgentInfo>): void => {
      const node = agents["toolkit/node-scribe"];
      const denoAgent = agents["toolkit/deno-scribe"];
      assert.ok(node !== undefined && denoAgent !== undefined, `both agents are listed: ${JSON.stringify(agents)}`);
      assert.deepEqual(
        { nodeId: node.nodeId, className: node.className, role: node.role, goal: node.goal, tags: node.tags },
        { nodeId: seed.system.nodeId, className: "NodeScribe", role: "Node scribe", goal: "Drafts text under Node", tags: { runtime: "node" } },
      );
      assert.deepEqual(
        { nodeId: denoAgent.nodeId, className: denoAgent.className, role: denoAgent.role, goal: denoAgent.goal, tags: denoAgent.tags },
        { nodeId: deno.nodeId, className: "DenoScribe", role: "Deno scribe", goal: "Drafts text under Deno", tags: { runtime: "deno" } },
      );
      assert.ok(denoAgent.actorId.startsWith(`${deno.nodeId}:`), `the Deno agent's actorId ${denoAgent.actorId}`);
    };
    expected(await listAgents({ system: seed.system }));
    expected((await ok(deno, { listAgents: { timeout: 5_000 } })).agents as Record<string, AgentInfo>);

    // The Deno agent's tokens (from the model server, through llm() on Deno), read on Node as an actor stream.
    const scribe = (await seed.system.resolve("toolkit/deno-scribe", { timeout: 10_000 })).asAny();
    const fromDeno: string[] = [];
    for await (const token of scribe.draft(model.baseURL, "fake-model", "Deno agents") as AsyncIterable<string>) fromDeno.push(token);
    assert.equal(fromDeno.join(""), reply("Write about Deno agents"));
    assert.ok(fromDeno.length > 5, `one token: ${JSON.stringify(fromDeno)}`);

    // The Node agent's tokens, read on Deno.
    const fromNode = await ok(deno, { stream: { name: "toolkit/node-scribe", method: "draft", args: [model.baseURL, "fake-model", "Node agents"] } });
    assert.equal(fromNode.nodeId, seed.system.nodeId);
    assert.equal((fromNode.items as string[]).join(""), reply("Write about Node agents"));

    // Stopping early on Node cancels the Deno agent's call, which closes its request to the model server.
    const before = slowModel.requests.length;
    const early: string[] = [];
    for await (const token of scribe.draft(slowModel.baseURL, "fake-model", "long") as AsyncIterable<string>) {
      early.push(token);
      if (early.length === 3) break;
    }
    assert.deepEqual(early, ["w0 ", "w1 ", "w2 "]);
    await eventually(() => {
      const request = slowModel.requests[before];
      assert.ok(request?.closedEarly === true, `the model server's request was not closed: ${JSON.stringify(request && { sent: request.tokensSent, finished: request.finished })}`);
    }, 10_000, 20);
    const request = slowModel.requests[before]!;
    assert.equal(request.finished, false);
    assert.ok(request.tokensSent < 300, `the whole reply was sent (${request.tokensSent} tokens)`);
  });

  test("spawnWorkers on Deno: worker threads join, run an actor called from Deno and Node, and die when terminated", async ({ seed, deno }) => {
    const workers = (await ok(deno, { spawnWorkers: { n: 2, timeout: 60_000 } })).workers as string[];
    assert.equal(workers.length, 2);
    assert.notEqual(workers[0], workers[1]);
    assert.ok(!workers.includes(deno.nodeId), "a worker is a node of its own");

    // Members of the cluster, as Deno nodes reachable through their parent's relay (no address of their own).
    await eventually(() => {
      for (const worker of workers) {
        const member = seed.system.members().find((m) => m.nodeId === worker);
        assert.ok(member !== undefined && member.status === "alive", `the seed sees worker ${worker} alive: ${JSON.stringify(member)}`);
        assert.equal(member.runtime, "deno");
        assert.ok(member.addrs.length > 0, "the worker announces addresses");
        for (const addr of member.addrs) assert.match(addr, new RegExp(`/p2p/${deno.nodeId}/p2p-circuit/p2p/${worker}$`));
      }
    }, 20_000, 50);
    // The parent reaches each worker over its MessagePort: neither TCP nor WebSocket, and not relayed.
    const connections = (await ok(deno, { connections: true })).connections as pul.ConnectionInfo[];
    for (const worker of workers) {
      const toWorker = connections.find((c) => c.nodeId === worker);
      assert.deepEqual(toWorker && { transport: toWorker.transport, relayed: toWorker.relayed }, { transport: "other", relayed: false }, `the connection to ${worker}`);
    }

    // Spawned from the Deno parent into a worker, called from the parent…
    const spawned = await ok(deno, { spawnInWorker: { node: workers[1], name: "toolkit/deno-cruncher" } });
    assert.equal(spawned.nodeId, workers[1]);
    assert.equal(spawned.sum, 500_500);
    assert.deepEqual(spawned.where, { runtime: "deno", nodeId: workers[1], threadId: (spawned.where as { threadId: number }).threadId, isMainThread: false });
    assert.ok((spawned.where as { threadId: number }).threadId > 0, "off the main thread");
    // …and by name from the Node seed, through the Deno parent's relay.
    const cruncher = (await seed.system.resolve("toolkit/deno-cruncher", { timeout: 10_000 })).asAny();
    assert.equal(await cruncher.sum(100), 5_050);
    assert.equal(((await cruncher.where()) as { nodeId: string }).nodeId, workers[1]);

    // A module that never calls initInsideWorker(): spawnWorkers rejects at once, not after its timeout.
    const started = Date.now();
    const notJoined = await failed(deno, { spawnWorkers: { n: 1, timeout: 30_000, module: "data:text/javascript," } });
    assert.equal(notJoined.code, "INVALID_STATE", JSON.stringify(notJoined));
    assert.match(notJoined.message, /initInsideWorker/);
    assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);

    // Terminated: the cluster declares them dead like any node that stops answering.
    assert.deepEqual((await ok(deno, { terminateWorkers: true })).terminated, workers);
    await eventually(() => {
      for (const worker of workers) {
        assert.equal(seed.system.members().find((m) => m.nodeId === worker)?.status, "dead", `worker ${worker} is declared dead`);
      }
    }, DETECTION_BOUND_MS + 4_000, 100);
    // The Deno parent goes on.
    assert.deepEqual((await ok(deno, { call: { name: "deno/echo", method: "echo", args: ["still here"] } })).result, "still here");
  });

  test("a Deno node that ran processes, a model stream and agents exits by itself once shut down (no Deno.exit())", async ({ seed, procSeed, model }) => {
    const node = await startDenoNode({ seeds: [tcpAddr(seed.system)], serveProcesses: true });
    try {
      await knows(denoMembers(node), [seed.system.nodeId, procSeed.system.nodeId]);
      const done = (await ok(node, { run: { args: ["echo", "ran"], options: { node: procSeed.system.nodeId, captureOutput: true, check: true } } })).done as pul.CompletedProcess<string>;
      assert.equal(done.stdout, "ran\n");
      assert.equal(((await ok(node, { run: { args: ["echo", "here"], options: { captureOutput: true } } })).done as pul.CompletedProcess<string>).stdout, "here\n");
      assert.equal(((await ok(node, { llm: { baseURL: model.baseURL, model: "fake-model", prompt: "exit", stream: true } })).tokens as string[]).join(""), reply("exit"));
      await ok(node, { spawnAgent: { name: "toolkit/exiting-scribe" } });
      const agents = (await ok(node, { listAgents: { timeout: 5_000 } })).agents as Record<string, AgentInfo>;
      assert.equal(agents["toolkit/exiting-scribe"]?.nodeId, node.nodeId, `its agent is not listed: ${JSON.stringify(agents)}`);

      const exited = new Promise<[number | null, string | null]>((resolve) => node.process.once("exit", (code, signal) => resolve([code, signal])));
      const stopping = Date.now();
      node.process.stdin!.end(); // e2e/deno-node.ts then calls shutdown() and returns
      const outcome = await Promise.race([exited, new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 15_000))]);
      assert.deepEqual(outcome, [0, null], "the Deno process was still running 15 s after its input ended");
      console.log(`the Deno node exited by itself ${Date.now() - stopping} ms after its input ended`);
      await eventually(() => assert.equal(seed.system.members().find((m) => m.nodeId === node.nodeId)?.status, "dead", "the seed saw it leave"), 10_000, 50);
    } finally {
      await node.stop();
    }
  });
});
