/**
 * Starts cluster nodes as child processes (real processes, real libp2p over loopback) and cleans them up.
 */
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as pul from "pulsing";
import { eventually } from "../helpers.js";
import { spawnLineProcess } from "./line-process.js";

const CHILD = fileURLToPath(new URL("./child-node.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ChildNode {
  nodeId: string;
  addrs: string[];
  /** The whole ready line (`called`, `calledMs` with `callAfterInit`; `spawned` with `spawnAfterInit`). */
  ready: Record<string, unknown>;
  process: ChildProcess;
  /** Sends a command line and waits for the next reply line. */
  command(command: unknown): Promise<Record<string, unknown>>;
  /** SIGKILL: no goodbye, sockets torn down by the OS. */
  kill(): Promise<void>;
  /** Graceful: closes stdin, the child shuts its system down. */
  stop(): Promise<void>;
}

export interface ChildOptions extends Omit<pul.ActorSystemOptions, "privateKey"> {
  privateKeyHex?: string;
  /** Calls this actor right after `init()` returns (the result lands in `ready.called`). */
  callAfterInit?: { actorId: string; method: string; args?: unknown[]; timeout?: number };
  /** Spawns an anonymous actor of this fixture class right after `init()` returns (its id lands in `ready.spawned`). */
  spawnAfterInit?: { cls: string; args?: unknown[] };
}

export async function startNode(options: ChildOptions, timeoutMs = 30_000): Promise<ChildNode> {
  const node = spawnLineProcess(
    process.execPath,
    ["--conditions=pulsing-source", "--import", "tsx", CHILD, JSON.stringify(options)],
    ROOT,
    "child node",
  );
  const child = node.process;
  const first = await node.next(timeoutMs).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  if ("error" in first) {
    const { name, message } = first.error as { name: string; message: string };
    throw Object.assign(new Error(message), { name });
  }
  const { nodeId, addrs } = first.ready as { nodeId: string; addrs: string[] };
  return {
    nodeId,
    addrs,
    ready: first.ready as Record<string, unknown>,
    process: child,
    command: (command) => node.ask(command, 10_000),
    kill: () => node.kill(),
    stop: () => node.stop(),
  };
}

/** The TCP multiaddr of a node (with /p2p/). */
export function tcpAddr(node: { addrs: string[] }): string {
  const addr = node.addrs.find((a) => a.includes("/tcp/") && !a.includes("/ws") && a.startsWith("/ip4/127.0.0.1"));
  if (addr === undefined) throw new Error(`no loopback TCP address among ${node.addrs.join(", ")}`);
  return addr;
}

/** The WebSocket multiaddr of a node (with /p2p/). */
export function wsAddr(node: { addrs: string[] }): string {
  const addr = node.addrs.find((a) => a.includes("/ws") && a.startsWith("/ip4/127.0.0.1"));
  if (addr === undefined) throw new Error(`no loopback WebSocket address among ${node.addrs.join(", ")}`);
  return addr;
}

/**
 * `count` full nodes in this process (the first is the others' seed), resolved once every one sees all of them
 * alive. Shut them down with `Promise.all(systems.map((s) => s.shutdown()))`.
 */
export async function inProcessCluster(count: number, timeoutMs = 15_000): Promise<pul.ActorSystem[]> {
  const seed = await pul.actorSystem({ addr: "127.0.0.1:0" });
  const systems = [seed, ...(await Promise.all(Array.from({ length: count - 1 }, () => pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpAddr(seed)] }))))];
  await eventually(() => {
    for (const system of systems) {
      const alive = system.members().filter((m) => m.status === "alive").length;
      if (alive !== count) throw new Error(`node ${system.nodeId} sees ${alive} of ${count} alive`);
    }
  }, timeoutMs);
  return systems;
}
