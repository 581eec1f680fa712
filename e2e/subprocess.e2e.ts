/**
 * Processes (issue 13) from a browser tab: a tab has no processes of its own, so it runs them on a Node seed that
 * opted in (`startSeed({ serveProcesses: true })`), through the public `pul.subprocess` of the `pulsing` entry.
 *
 * The cluster: the fixtures' Node seed (which did not opt in) and one tab, plus a second seed in this process that
 * serves processes (the fixtures' `procSeed`). The tab runs a command to its end with captured output (`run`), talks to `cat`
 * line by line over stdin and stdout (`spawn`), is refused by the seed that did not opt in (`PROCESSES_NOT_SERVED`),
 * and sees a failing command rejected with `PROCESS_FAILED` and its stderr (`check: true`).
 */
import assert from "node:assert/strict";
import type * as pul from "pulsing";
import { test } from "./fixtures.js";

type PageGlobals = { pul: typeof pul; system: pul.ActorSystem } & Record<string, unknown>;

/** The command the tab runs: this Node binary (the seed that serves processes runs in this process). */
const NODE = process.execPath;

test.use({ tabCount: 1 });

test.describe("processes from a browser tab", () => {
  test.describe.configure({ mode: "serial" });

  test.beforeAll(async ({ tabs, procSeed }) => {
    // The tab places processes by its own member list: it must know the serving seed first.
    await tabs[0]!.page.waitForFunction(
      (nodeId) => (globalThis as unknown as PageGlobals).system.members().some((m) => m.nodeId === nodeId && m.status === "alive"),
      procSeed.system.nodeId,
      { timeout: 20_000 },
    );
  });

  test("a tab runs a command on the Node seed that serves processes and gets its output", async ({ tabs, procSeed }) => {
    const LINES = 40_000; // ~270 KB: several 64 KiB chunks of output, streamed to the tab
    const script = `let s = ""; for (let i = 0; i < ${LINES}; i++) s += "line " + i + "\\n"; process.stdout.write(s); process.stderr.write("done\\n");`;
    const done = await tabs[0]!.page.evaluate(
      async ({ node, command }) => {
        const { pul } = globalThis as unknown as PageGlobals;
        const result = await pul.subprocess.run(command, { node, captureOutput: true, encoding: "utf8", check: true, timeout: 30_000 });
        return result;
      },
      { node: procSeed.system.nodeId, command: [NODE, "-e", script] },
    );
    assert.equal(done.exitCode, 0);
    assert.equal(done.signal, null);
    assert.equal(done.stderr, "done\n");
    assert.equal(typeof done.stdout, "string");
    const expected = Array.from({ length: LINES }, (_, i) => `line ${i}\n`).join("");
    assert.equal((done.stdout as string).length, expected.length, "the output's length");
    assert.ok(done.stdout === expected, "the output came back changed");
    assert.deepEqual(done.args, [NODE, "-e", script]);
  });

  test("a tab spawns cat on the seed, writes its stdin and reads its stdout line by line, then it exits 0", async ({ tabs, procSeed }) => {
    const said = ["hello", "from a tab", "ünïcødé ✓", "last line"];
    const result = await tabs[0]!.page.evaluate(
      async ({ node, said }) => {
        const { pul, system } = globalThis as unknown as PageGlobals;
        const p = await pul.subprocess.spawn(["cat"], { node });
        // A bound on the whole exchange: a lost line fails the test instead of hanging it.
        const guard = setTimeout(() => void p.kill("SIGKILL"), 20_000);
        const heard: string[] = [];
        try {
          // One line at a time: the next is written only after cat echoed the previous one back.
          await p.stdin.write(`${said[0]}\n`);
          for await (const line of p.stdout.lines()) {
            heard.push(line);
            if (heard.length < said.length) await p.stdin.write(`${said[heard.length]}\n`);
            else if (heard.length === said.length) await p.stdin.end();
          }
          const exit = await p.wait();
          return { heard, exit, nodeId: p.nodeId, pid: p.pid, poll: p.poll(), exitCode: p.exitCode, self: system.nodeId };
        } finally {
          clearTimeout(guard);
        }
      },
      { node: procSeed.system.nodeId, said },
    );
    assert.deepEqual(result.heard, said);
    assert.deepEqual(result.exit, { exitCode: 0, signal: null });
    assert.deepEqual(result.poll, { exitCode: 0, signal: null });
    assert.equal(result.exitCode, 0);
    assert.equal(result.nodeId, procSeed.system.nodeId);
    assert.notEqual(result.self, procSeed.system.nodeId);
    assert.equal(typeof result.pid, "number");
  });

  test("a tab asking the seed that did not opt in gets PROCESSES_NOT_SERVED", async ({ seed, tabs }) => {
    const refused = await tabs[0]!.page.evaluate(async (node) => {
      const { pul } = globalThis as unknown as PageGlobals;
      try {
        await pul.subprocess.run(["echo", "should not run"], { node, captureOutput: true });
        return { ran: true };
      } catch (error) {
        const e = error as pul.PulsingRuntimeError;
        return { ran: false, code: e.code, runtimeError: e instanceof pul.PulsingRuntimeError, message: e.message };
      }
    }, seed.system.nodeId);
    assert.equal(refused.ran, false, "the seed ran a process without serveProcesses");
    assert.equal(refused.code, "PROCESSES_NOT_SERVED", JSON.stringify(refused));
    assert.equal(refused.runtimeError, true);
    assert.match(refused.message!, /serveProcesses/);
  });

  test("check: true with a failing command rejects with PROCESS_FAILED and the captured stderr", async ({ tabs, procSeed }) => {
    const script = `process.stdout.write("partial\\n"); process.stderr.write("boom: it failed\\n"); process.exit(3);`;
    const failed = await tabs[0]!.page.evaluate(
      async ({ node, command }) => {
        const { pul } = globalThis as unknown as PageGlobals;
        try {
          await pul.subprocess.run(command, { node, captureOutput: true, encoding: "utf8", check: true, timeout: 20_000 });
          return { rejected: false };
        } catch (error) {
          const e = error as pul.ProcessFailedError;
          return {
            rejected: true,
            code: e.code,
            typed: e instanceof pul.ProcessFailedError,
            exitCode: e.exitCode,
            signal: e.signal,
            stdout: e.stdout,
            stderr: e.stderr,
            message: e.message,
          };
        }
      },
      { node: procSeed.system.nodeId, command: [NODE, "-e", script] },
    );
    assert.equal(failed.rejected, true, "a failing command with check: true resolved");
    assert.equal(failed.code, "PROCESS_FAILED", JSON.stringify(failed));
    assert.equal(failed.typed, true);
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.signal, null);
    assert.equal(failed.stdout, "partial\n");
    assert.equal(failed.stderr, "boom: it failed\n");
    assert.match(failed.message!, /exited with code 3: boom: it failed/);
  });

  test.afterAll(async ({ tabs }) => {
    assert.deepEqual(tabs[0]!.errors, [], "page errors in the tab");
  });
});
