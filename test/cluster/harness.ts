/**
 * Starts cluster nodes as child processes (real processes, real libp2p over loopback) and cleans them up.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type * as pul from "pulsing";

const CHILD = fileURLToPath(new URL("./child-node.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export interface ChildNode {
  nodeId: string;
  addrs: string[];
  process: ChildProcess;
  /** Lines the child printed (parsed). */
  messages: unknown[];
  /** Sends a command line and waits for the next reply line. */
  command(command: unknown): Promise<Record<string, unknown>>;
  /** SIGKILL: no goodbye, sockets torn down by the OS. */
  kill(): Promise<void>;
  /** Graceful: closes stdin, the child shuts its system down. */
  stop(): Promise<void>;
}

export interface ChildOptions extends Omit<pul.ActorSystemOptions, "privateKey"> {
  privateKeyHex?: string;
}

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

export async function startNode(options: ChildOptions, timeoutMs = 30_000): Promise<ChildNode> {
  const child = spawn(process.execPath, ["--conditions=pulsing-source", "--import", "tsx", CHILD, JSON.stringify(options)], {
    cwd: ROOT,
    stdio: ["pipe", "pipe", "inherit"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  const messages: unknown[] = [];
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
        continue; // not ours
      }
      messages.push(parsed);
      waiters.shift()?.(parsed);
    }
  });
  const nextLine = (ms: number): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child node did not answer within ${ms} ms`)), ms);
      const onExit = (code: number | null) => reject(new Error(`child node exited with ${code}`));
      child.once("exit", onExit);
      waiters.push((line) => {
        clearTimeout(timer);
        child.off("exit", onExit);
        resolve(line);
      });
    });
  const first = await nextLine(timeoutMs).catch((error: Error) => {
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
    process: child,
    messages,
    command: async (command) => {
      const reply = nextLine(10_000);
      child.stdin!.write(`${JSON.stringify(command)}\n`);
      return reply;
    },
    kill: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await once(child, "exit");
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await once(child, "exit");
      clearTimeout(timer);
    },
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
