/** Starts `test/cluster/multi-node.ts` processes (several full nodes per process) and talks to them. */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type * as pul from "pulsing";

const CHILD = fileURLToPath(new URL("./multi-node.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface NodeHost {
  process: ChildProcess;
  nodeIds: string[];
  ask(command: unknown): Promise<Record<string, unknown>>;
  kill(): void;
}

const hosts = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of hosts) child.kill("SIGKILL");
});

export async function startNodeHost(options: {
  count: number;
  seeds: string[];
  membership?: pul.MembershipOptions;
  prefix: string;
}): Promise<NodeHost> {
  const child = spawn(process.execPath, ["--conditions=pulsing-source", "--import", "tsx", CHILD, JSON.stringify(options)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  hosts.add(child);
  child.on("exit", () => hosts.delete(child));
  const waiters: Array<(line: Record<string, unknown>) => void> = [];
  let buffered = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      try {
        waiters.shift()?.(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not ours
      }
    }
  });
  const next = (ms: number) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node host ${options.prefix} did not answer in ${ms} ms`)), ms);
      waiters.push((line) => (clearTimeout(timer), resolve(line)));
    });
  const ready = await next(120_000).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  return {
    process: child,
    nodeIds: ready.ready as string[],
    ask: (command) => {
      const reply = next(30_000);
      child.stdin!.write(`${JSON.stringify(command)}\n`);
      return reply;
    },
    kill: () => child.kill("SIGKILL"),
  };
}
