/**
 * Starts `./remote-peer.ts` in a child Node process (as test/cluster/harness.ts starts cluster nodes) and makes
 * sure it goes away: `stop()` closes its stdin and kills it if it lingers, and a process `exit` hook kills any
 * child still running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./remote-peer.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface PeerProcess {
  pid: number;
  nodeId: string;
  addrs: string[];
  netPort: number;
  /** Graceful (stdin closes, the peer shuts its system down), then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

export async function startPeer(timeoutMs = 30_000): Promise<PeerProcess> {
  // Profiling flags pass through (Node refuses them in NODE_OPTIONS): `node --cpu-prof --cpu-prof-dir=prof
  // --conditions=pulsing-source --import tsx bench/run.ts remote` profiles both processes.
  const profiling = process.execArgv.filter((arg) => arg.startsWith("--cpu-prof"));
  const child = spawn(process.execPath, [...profiling, "--conditions=pulsing-source", "--import", "tsx", SCRIPT], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  running.add(child);
  child.on("exit", () => running.delete(child));
  child.stdin!.on("error", () => {}); // EPIPE when the child is already gone: 'exit' tells us that

  const stop = async (graceMs = 5_000): Promise<void> => {
    if (exited(child)) return;
    const gone = once(child, "exit");
    child.stdin!.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await gone;
    clearTimeout(timer);
  };

  try {
    const ready = await firstLine(child, timeoutMs);
    if ("error" in ready) {
      const { name, message } = ready.error as { name: string; message: string };
      throw Object.assign(new Error(`bench peer failed to start: ${message}`), { name });
    }
    const { nodeId, addrs, netPort } = ready.ready as { nodeId: string; addrs: string[]; netPort: number };
    return { pid: child.pid!, nodeId, addrs, netPort, stop };
  } catch (error) {
    await stop(0);
    throw error;
  }
}

/** The child's first JSON line on stdout (other output is ignored). */
function firstLine(child: ChildProcess, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffered = "";
    const onData = (chunk: string): void => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          continue;
        }
        if (typeof parsed === "object" && parsed !== null) {
          done();
          resolve(parsed as Record<string, unknown>);
          return;
        }
      }
    };
    const onExit = (code: number | null): void => {
      done();
      reject(new Error(`bench peer exited with ${code} before it was ready`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`bench peer was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      child.off("exit", onExit);
      child.stdout!.resume(); // keep draining whatever the child prints later
    };
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", onData);
    child.once("exit", onExit);
  });
}
