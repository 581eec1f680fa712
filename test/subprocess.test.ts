/**
 * Processes on any node (issue 13): `subprocess.run` / `subprocess.spawn` here (`child_process`) and on other Node
 * processes through their process runners — pipes, lines, input, large outputs paced by the reader, timeouts,
 * exits with and without `check`, kill, placement by resources, refusal without opt-in, and a runner node killed
 * while its process runs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { subprocess, type Subprocess } from "pulsing/node";
import { startNode, tcpAddr, type ChildNode } from "./cluster/harness.js";
import { eventually, hasCode, sleep } from "./helpers.js";

const NODE = process.execPath;
const CHUNK = 65_536;
const BIG_CHUNKS = 200; // 12.5 MiB
/** A process that writes BIG_CHUNKS × 64 KiB to stdout, waiting for 'drain' as a well-behaved writer does. */
const BIG_WRITER = [
  NODE,
  "-e",
  `const b = Buffer.alloc(${CHUNK}, 120); let n = 0;
   (function w() { while (n < ${BIG_CHUNKS}) { n++; if (!process.stdout.write(b)) return process.stdout.once("drain", w); } })();`,
];

const MIB = 1024 * 1024;
/** A process that writes 1 MiB to stdout and 1 MiB to stderr, interleaved (either pipe fills while the other is read). */
const BOTH_WRITER = [
  NODE,
  "-e",
  `const o = Buffer.alloc(65536, 111), e = Buffer.alloc(65536, 101);
   for (let i = 0; i < 16; i++) { process.stdout.write(o); process.stderr.write(e); }`,
];
/** A process that says something at once, then runs until killed (`exec`: no child left holding the pipes). */
const SAY_THEN_SLEEP = ["sh", "-c", "printf before; exec sleep 60"];

/** communicate(): with input on cat, large output on both streams and large input at once, then what is not piped. */
async function communicateCases(options: { system?: pul.ActorSystem; node?: string }, spawned: Subprocess[]): Promise<void> {
  const cat = await subprocess.spawn(["cat"], { ...options, encoding: "utf8" });
  spawned.push(cat);
  const done = await cat.communicate("hello\nworld", { timeout: 30_000 });
  assert.deepEqual(done, { args: ["cat"], exitCode: 0, signal: null, stdout: "hello\nworld", stderr: "" });
  assert.deepEqual(await cat.communicate(), done, "a later call has the same result");
  await assert.rejects(cat.communicate("more"), hasCode("INVALID_STATE", /after a communication started/));

  // Both pipes full at once: read one to its end before the other and neither ends.
  const both = await subprocess.spawn(BOTH_WRITER, options);
  spawned.push(both);
  const big = await both.communicate(undefined, { timeout: 30_000 });
  assert.equal(big.exitCode, 0);
  assert.ok(big.stdout instanceof Uint8Array && big.stderr instanceof Uint8Array, "bytes without encoding");
  assert.equal(big.stdout.byteLength, MIB);
  assert.equal(big.stderr.byteLength, MIB);
  assert.ok(big.stdout.every((b) => b === 111) && big.stderr.every((b) => b === 101), "each stream has its own bytes");

  // 2 MiB in and out of cat: written while the output is read (written first, cat would stall on a full stdout).
  const echo = await subprocess.spawn(["cat"], options);
  spawned.push(echo);
  const input = new Uint8Array(2 * MIB).map((_, i) => i % 251);
  const echoed = await echo.communicate(input, { timeout: 30_000 });
  assert.equal(echoed.stdout!.byteLength, input.byteLength);
  assert.ok(echoed.stdout!.every((b, i) => b === input[i]), "cat gave back its input");

  // Not piped: undefined (as Python's None); no stdin to close.
  const quiet = await subprocess.spawn([NODE, "-e", "process.stderr.write('e')"], { ...options, stdin: "ignore", stdout: "ignore", encoding: "utf8" });
  spawned.push(quiet);
  assert.deepEqual(await quiet.communicate(), { args: quiet.args, exitCode: 0, signal: null, stdout: undefined, stderr: "e" });

  // A process that ended before communicate() (its stdin piped, by default, and nothing else): stdin is closed, no error.
  const ended = await subprocess.spawn([NODE, "-e", ""], { ...options, stdout: "ignore", stderr: "ignore" });
  spawned.push(ended);
  await ended.wait();
  assert.deepEqual(await ended.communicate(undefined, { timeout: 10_000 }), { args: ended.args, exitCode: 0, signal: null, stdout: undefined, stderr: undefined });

  // A process that exits without reading all of its input (more than a pipe holds): no error, as in Python.
  const first = await subprocess.spawn([NODE, "-e", "process.stdin.once('data', () => process.exit(0))"], { ...options, stdout: "ignore" });
  spawned.push(first);
  const early = await first.communicate(new Uint8Array(4 * MIB), { timeout: 30_000 });
  assert.equal(early.exitCode, 0);
}

/** communicate() with a timeout: rejects with TIMEOUT, leaves the process running; after kill(), it gives what was written. */
async function communicateTimeout(options: { system?: pul.ActorSystem; node?: string }, spawned: Subprocess[]): Promise<void> {
  const p = await subprocess.spawn(SAY_THEN_SLEEP, { ...options, encoding: "utf8" });
  spawned.push(p);
  const started = Date.now();
  await assert.rejects(p.communicate(undefined, { timeout: 800 }), hasCode("TIMEOUT", /timed out after 800ms; the process was left running/));
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  await sleep(200);
  assert.equal(p.poll(), null, "still running");
  await assert.rejects(p.communicate(undefined, { timeout: 100 }), hasCode("TIMEOUT"), "a second call waits for the same process");
  assert.equal(await p.kill("SIGKILL"), true, "it was alive to be killed");
  assert.deepEqual(await p.communicate(undefined, { timeout: 10_000 }), { args: SAY_THEN_SLEEP, exitCode: null, signal: "SIGKILL", stdout: "before", stderr: "" });
}

/**
 * Reads a little, stops reading for a while (the process must then still be running: it waits for the reader, so
 * nothing buffers the rest of its output), then reads the rest and counts it.
 */
async function readWithPause(p: Subprocess, pauseMs: number): Promise<{ total: number; runningDuringPause: boolean }> {
  const iterator = p.stdout[Symbol.asyncIterator]();
  let total = 0;
  while (total < 1024 * 1024) {
    const step = await iterator.next();
    assert.ok(!step.done, "output ended early");
    total += step.value.byteLength;
  }
  await sleep(pauseMs);
  const runningDuringPause = p.poll() === null;
  for (let step = await iterator.next(); !step.done; step = await iterator.next()) total += step.value.byteLength;
  return { total, runningDuringPause };
}

describe("subprocess here (child_process)", () => {
  const spawned: Subprocess[] = [];
  after(async () => {
    for (const p of spawned) await p.kill("SIGKILL").catch(() => {});
  });

  it("runs a command, captures its output as text, checks its exit", async () => {
    const done = await subprocess.run([NODE, "-e", "console.log('out'); console.error('err')"], { captureOutput: true, encoding: "utf8", check: true, timeout: 10_000 });
    assert.deepEqual(done, { args: [NODE, "-e", "console.log('out'); console.error('err')"], exitCode: 0, signal: null, stdout: "out\n", stderr: "err\n" });
    const bytes = await subprocess.run(["printf", "ab"], { captureOutput: true });
    assert.ok(bytes.stdout instanceof Uint8Array, "bytes without encoding");
    assert.deepEqual([...bytes.stdout], [97, 98]);
    const uncaptured = await subprocess.run(["true"]);
    assert.equal(uncaptured.stdout, undefined);
  });

  it("writes input to the process", async () => {
    const done = await subprocess.run(["cat"], { input: "hello\nworld", captureOutput: true, encoding: "utf8" });
    assert.equal(done.stdout, "hello\nworld");
    const binary = await subprocess.run(["wc", "-c"], { input: new Uint8Array(300_000), captureOutput: true, encoding: "utf8" });
    assert.equal(binary.stdout!.trim(), "300000");
  });

  it("reports a non-zero exit; with check, rejects with PROCESS_FAILED carrying the output", async () => {
    const script = "console.log('partial'); console.error('boom'); process.exit(3)";
    const done = await subprocess.run([NODE, "-e", script], { captureOutput: true, encoding: "utf8" });
    assert.equal(done.exitCode, 3);
    await assert.rejects(subprocess.run([NODE, "-e", script], { captureOutput: true, encoding: "utf8", check: true }), (error: unknown) => {
      hasCode("PROCESS_FAILED", /code 3.*boom/)(error);
      assert.ok(error instanceof pul.PulsingRuntimeError, "a PulsingRuntimeError");
      const failed = error as pul.ProcessFailedError;
      assert.equal(failed.exitCode, 3);
      assert.equal(failed.stdout, "partial\n");
      assert.equal(failed.stderr, "boom\n");
      return true;
    });
    await assert.rejects(subprocess.run(["no-such-command-pulsing"]), hasCode("PROCESS_FAILED", /could not start 'no-such-command-pulsing'/));
  });

  it("kills a process that outlives its timeout and says so", async () => {
    const started = Date.now();
    await assert.rejects(subprocess.run(["sleep", "30"], { timeout: 300 }), hasCode("TIMEOUT", /timed out after 300ms; the process was killed/));
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  it("spawns with pipes: stdin writes, stdout lines, stderr, wait and poll", async () => {
    const p = await subprocess.spawn(["cat"]);
    assert.ok(typeof p.pid === "number", "a pid");
    assert.equal(p.poll(), null);
    assert.equal(p.exitCode, null);
    const lines: string[] = [];
    const reading = (async () => {
      for await (const line of p.stdout.lines()) lines.push(line);
    })();
    await p.stdin.write("one\ntw");
    await p.stdin.write(new TextEncoder().encode("o\r\nthree"));
    await p.stdin.end();
    await reading;
    assert.deepEqual(lines, ["one", "two", "three"]);
    assert.deepEqual(await p.wait(), { exitCode: 0, signal: null });
    assert.deepEqual(p.poll(), { exitCode: 0, signal: null });
    assert.equal(p.exitCode, 0);

    // Output read only after the process has exited is still all there (Node drops unlistened pipes at exit).
    const late = await subprocess.spawn(["echo", "read late"]);
    await late.wait();
    await sleep(100);
    assert.equal(await late.stdout.text(), "read late\n");

    const e = await subprocess.spawn([NODE, "-e", "process.stderr.write('to stderr')"], { stdout: "ignore" });
    assert.equal(await e.stderr.text(), "to stderr");
    assert.throws(() => e.stdout[Symbol.asyncIterator](), hasCode("INVALID_STATE", /not piped/));
    await e.wait();
  });

  it("communicate(): input, both outputs read at once, the exit; undefined for what is not piped", async () => {
    await communicateCases({}, spawned);
  });

  it("communicate(): a timeout rejects with TIMEOUT and leaves the process running", async () => {
    await communicateTimeout({}, spawned);
  });

  it("communicate(): refuses input without a piped stdin, bad options, and an output read elsewhere", async () => {
    const p = await subprocess.spawn(["true"], { stdin: "ignore" });
    await assert.rejects(p.communicate("x"), hasCode("INVALID_STATE", /input given, but stdin is not piped/));
    await assert.rejects(p.communicate(undefined, { timeout: -1 }), hasCode("INVALID_OPTION", /'timeout'/));
    await assert.rejects(p.communicate(undefined, { timout: 5 } as never), hasCode("INVALID_OPTION", /did you mean 'timeout'/));
    await assert.rejects(p.communicate(42 as never), hasCode("INVALID_ARGUMENT"));
    const reading = p.stdout.bytes();
    await assert.rejects(p.communicate(), hasCode("INVALID_STATE", /stdout is being read already/));
    await reading;
    await p.wait();
    await assert.rejects(subprocess.spawn(["true"], { encoding: "no-such-encoding" }), hasCode("INVALID_OPTION", /'encoding'/));
  });

  it("kills a process with a signal", async () => {
    const p = await subprocess.spawn(["sleep", "30"]);
    assert.equal(await p.kill(), true);
    assert.deepEqual(await p.wait(), { exitCode: null, signal: "SIGTERM" });
    assert.equal(p.signalCode, "SIGTERM");
    assert.equal(await p.kill(), false, "already exited");
  });

  it("streams a large output at the reader's pace (the process waits while the reader does)", async () => {
    const p = await subprocess.spawn(BIG_WRITER);
    const { total, runningDuringPause } = await readWithPause(p, 500);
    assert.ok(runningDuringPause, "the writer finished while nobody read: its output was buffered");
    assert.equal(total, CHUNK * BIG_CHUNKS);
    assert.equal((await p.wait()).exitCode, 0);
  });

  it("refuses bad arguments and options with INVALID_OPTION", async () => {
    await assert.rejects(subprocess.run([] as string[]), hasCode("INVALID_OPTION", /'args'/));
    await assert.rejects(subprocess.run("ls" as unknown as string[]), hasCode("INVALID_OPTION", /'args'/));
    await assert.rejects(subprocess.run(["ls"], { capture_output: true } as never), hasCode("INVALID_OPTION", /unknown option 'capture_output'; did you mean 'captureOutput'/));
    await assert.rejects(subprocess.spawn(["ls"], { stdout: "file" as never }), hasCode("INVALID_OPTION", /'stdout'/));
    await assert.rejects(subprocess.run(["ls"], { resources: { cpus: -1 } }), hasCode("INVALID_OPTION", /'cpus'/));
    await assert.rejects(pul.actorSystem({ resources: { cpus: 1 } }), hasCode("INVALID_OPTION", /needs 'serveProcesses: true'/));
  });

  it("needs a system to run elsewhere", async () => {
    await assert.rejects(subprocess.run(["true"], { node: "somewhere" }), hasCode("NOT_INITIALIZED"));
  });
});

describe("subprocess on other nodes (process runners)", () => {
  let small: ChildNode; // serves processes: 2 cpus, 4 GB, role a
  let big: ChildNode; // serves processes: 8 cpus, 1 GB, role b
  let closed: ChildNode; // did not opt in
  let system: pul.ActorSystem;
  const spawned: Subprocess[] = [];

  before(async () => {
    small = await startNode({ addr: "127.0.0.1:0", serveProcesses: true, resources: { cpus: 2, memory: 4e9, labels: { role: "a" } } });
    [big, closed] = await Promise.all([
      startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(small)], serveProcesses: true, resources: { cpus: 8, memory: 1e9, labels: { role: "b" } } }),
      startNode({ addr: "127.0.0.1:0", seeds: [tcpAddr(small)] }),
    ]);
    system = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpAddr(small)] });
    await eventually(() => assert.equal(system.members().filter((m) => m.status === "alive").length, 4), 20_000);
  });
  after(async () => {
    for (const p of spawned) await p.kill("SIGKILL").catch(() => {});
    await system?.shutdown();
    await Promise.all([small, big, closed].map((node) => node?.kill()));
  });

  it("runs a command on the node named, with input, captured output and check", async () => {
    const done = await subprocess.run(["cat"], { system, node: small.nodeId, input: "over the mesh", captureOutput: true, encoding: "utf8", check: true });
    assert.deepEqual(done, { args: ["cat"], exitCode: 0, signal: null, stdout: "over the mesh", stderr: "" });
    const failing = [NODE, "-e", "console.error('remote boom'); process.exit(7)"];
    assert.equal((await subprocess.run(failing, { system, node: small.nodeId })).exitCode, 7);
    await assert.rejects(subprocess.run(failing, { system, node: small.nodeId, captureOutput: true, check: true }), hasCode("PROCESS_FAILED", /code 7.*remote boom/));
    await assert.rejects(subprocess.run(["no-such-command-pulsing"], { system, node: small.nodeId }), hasCode("PROCESS_FAILED", /could not start/));
  });

  it("spawns there: pid, stdin, stdout lines, wait, poll, kill", async () => {
    const p = await subprocess.spawn(["cat"], { system, node: big.nodeId });
    spawned.push(p);
    assert.equal(p.nodeId, big.nodeId);
    assert.ok(typeof p.pid === "number", "a pid on the remote node");
    const lines: string[] = [];
    const reading = (async () => {
      for await (const line of p.stdout.lines()) lines.push(line);
    })();
    for (let i = 0; i < 50; i++) await p.stdin.write(`line ${i}\n`);
    await p.stdin.end();
    await reading;
    assert.deepEqual(lines, Array.from({ length: 50 }, (_, i) => `line ${i}`));
    assert.deepEqual(await p.wait(), { exitCode: 0, signal: null });
    assert.deepEqual(p.poll(), { exitCode: 0, signal: null });

    const sleeper = await subprocess.spawn(["sleep", "30"], { system, node: big.nodeId });
    spawned.push(sleeper);
    assert.equal(await sleeper.kill("SIGINT"), true);
    assert.deepEqual(await sleeper.wait(), { exitCode: null, signal: "SIGINT" });
  });

  it("communicate() there: input on cat, both outputs at once, what is not piped", async () => {
    await communicateCases({ system, node: small.nodeId }, spawned);
  });

  it("communicate() there: a timeout rejects with TIMEOUT and leaves the process running", async () => {
    await communicateTimeout({ system, node: big.nodeId }, spawned);
  });

  it("streams a large output over the mesh at the reader's pace", async () => {
    const p = await subprocess.spawn(BIG_WRITER, { system, node: small.nodeId });
    spawned.push(p);
    const { total, runningDuringPause } = await readWithPause(p, 1_000);
    assert.ok(runningDuringPause, "the remote writer finished while nobody read: its output was buffered somewhere");
    assert.equal(total, CHUNK * BIG_CHUNKS);
    assert.equal((await p.wait()).exitCode, 0);
  });

  it("kills a remote process that outlives its timeout", async () => {
    const started = Date.now();
    await assert.rejects(subprocess.run(["sleep", "30"], { system, node: small.nodeId, timeout: 500 }), hasCode("TIMEOUT", /after 500ms; the process was killed/));
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  });

  it("refuses on a node that did not opt in, with PROCESSES_NOT_SERVED", async () => {
    await assert.rejects(subprocess.run(["true"], { system, node: closed.nodeId }), hasCode("PROCESSES_NOT_SERVED", /serveProcesses/));
    await assert.rejects(subprocess.spawn(["true"], { system, node: "12D3KooWNotAMemberAtAll" }), hasCode("NODE_UNKNOWN"));
  });

  it("places a process on a node whose resources match", async () => {
    const where = async (resources: pul.ProcessResources): Promise<string> => {
      const p = await subprocess.spawn(["true"], { system, resources, stdin: "ignore" });
      await p.wait();
      return p.nodeId;
    };
    assert.equal(await where({ cpus: 4 }), big.nodeId);
    assert.equal(await where({ labels: { role: "a" } }), small.nodeId);
    assert.equal(await where({ cpus: 2, memory: 2e9 }), small.nodeId, "only the small node has the memory");
    assert.ok([small.nodeId, big.nodeId].includes(await where({ cpus: 1 })), "either serving node");
    const done = await subprocess.run(["echo", "placed"], { system, resources: { labels: { role: "b" } }, captureOutput: true, encoding: "utf8" });
    assert.equal(done.stdout, "placed\n");
    await assert.rejects(subprocess.run(["true"], { system, resources: { cpus: 1000 } }), hasCode("PROCESSES_NOT_SERVED", /none of the 2 node/));
    await assert.rejects(subprocess.run(["true"], { system, node: small.nodeId, resources: { cpus: 4 } }), hasCode("PROCESSES_NOT_SERVED"));
  });
});

describe("a node that dies while its process runs", () => {
  let victim: ChildNode;
  let system: pul.ActorSystem;
  before(async () => {
    victim = await startNode({ addr: "127.0.0.1:0", serveProcesses: true });
    system = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpAddr(victim)] });
    await eventually(() => assert.equal(system.members().filter((m) => m.status === "alive").length, 2), 20_000);
  });
  after(async () => {
    await system?.shutdown();
    await victim?.kill();
  });

  it("fails its callers with a typed error, not a hang", async () => {
    const p = await subprocess.spawn(["sleep", "60"], { system, node: victim.nodeId });
    const running = subprocess.run(["sleep", "60"], { system, node: victim.nodeId, captureOutput: true });
    running.catch(() => {});
    await sleep(300);
    const killedAt = Date.now();
    await victim.kill();
    const lost = (error: unknown): true => {
      const code = (error as { code?: unknown }).code;
      assert.ok(code === "CONNECTION_LOST" || code === "NODE_DEAD", `a lost-node error, got ${String(code)}: ${(error as Error).message}`);
      return true;
    };
    await assert.rejects(p.wait(), lost);
    await assert.rejects(running, lost);
    assert.ok(Date.now() - killedAt < 10_000, `took ${Date.now() - killedAt} ms`);
    assert.equal(p.poll(), null);
  });
});
