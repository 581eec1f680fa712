/**
 * A child process that talks in JSON lines (the test nodes: child-node.ts, multi-node.ts, e2e/deno-node.ts): one
 * command line in, one answer line out. Children still running when this process exits are killed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";

export interface LineProcess {
  process: ChildProcess;
  /** The next line the child prints (non-JSON lines are skipped); rejects after `ms` or when the child exits. */
  next(ms: number): Promise<Record<string, unknown>>;
  /** Sends one command and waits for the answer line. */
  ask(command: unknown, ms?: number): Promise<Record<string, unknown>>;
  /** SIGKILL: no goodbye, sockets torn down by the OS. */
  kill(): Promise<void>;
  /** Graceful: closes its stdin (the child shuts down and exits), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export function spawnLineProcess(command: string, args: string[], cwd: string, name: string): LineProcess {
  const child = spawn(command, args, { cwd, stdio: ["pipe", "pipe", "inherit"] });
  running.add(child);
  child.on("exit", () => running.delete(child));
  const waiters: Array<(line: Record<string, unknown>) => void> = [];
  let buffered = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue; // not one of ours
      }
      waiters.shift()?.(parsed);
    }
  });
  const next = (ms: number): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not answer within ${ms} ms`)), ms);
      const onExit = (code: number | null): void => reject(new Error(`${name} exited (${code})`));
      // "close" (stdout read to the end), not "exit": a line printed just before exiting still counts.
      child.once("close", onExit);
      waiters.push((line) => {
        clearTimeout(timer);
        child.off("close", onExit);
        resolve(line);
      });
    });
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    process: child,
    next,
    ask: (message, ms = 30_000) => {
      const reply = next(ms);
      child.stdin!.write(`${JSON.stringify(message)}\n`);
      return reply;
    },
    kill: async () => {
      if (exited()) return;
      child.kill("SIGKILL");
      await once(child, "exit");
    },
    stop: async (graceMs = 5_000) => {
      if (exited()) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      await once(child, "exit");
      clearTimeout(timer);
    },
  };
}
