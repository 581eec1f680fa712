/** Starts `test/cluster/multi-node.ts` processes (several full nodes per process) and talks to them. */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type * as pul from "pulsing";
import { spawnLineProcess } from "./line-process.js";

const CHILD = fileURLToPath(new URL("./multi-node.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface NodeHost {
  process: ChildProcess;
  nodeIds: string[];
  ask(command: unknown): Promise<Record<string, unknown>>;
  kill(): void;
}

export async function startNodeHost(options: {
  count: number;
  seeds: string[];
  membership?: pul.MembershipOptions;
  prefix: string;
}): Promise<NodeHost> {
  const host = spawnLineProcess(
    process.execPath,
    ["--conditions=pulsing-source", "--import", "tsx", CHILD, JSON.stringify(options)],
    ROOT,
    `node host ${options.prefix}`,
  );
  const ready = await host.next(120_000).catch((error: unknown) => {
    host.process.kill("SIGKILL");
    throw error;
  });
  return {
    process: host.process,
    nodeIds: ready.ready as string[],
    ask: (command) => host.ask(command),
    kill: () => host.process.kill("SIGKILL"),
  };
}
