/**
 * The port between the isomorphic process client (`src/process/`) and the runtimes that can run processes (Node and
 * Deno: `src/node/processes.ts`, reached through `platform.processes`), and the checks of what crosses it. Nothing
 * here touches `node:`.
 */
import { invalid, show, type Check, type OptionSchema } from "../util/options.js";

/** The public name of a node's process runner (an actor on every node started with `serveProcesses: true`). */
export const PROCESS_RUNNER_NAME = "pulsing/processes";

/** What becomes of one of a process's standard streams. */
export type StdioMode = "pipe" | "ignore" | "inherit";

/** How a process exited: a code, or the signal that ended it (the other is `null`). */
export interface ProcessExit {
  exitCode: number | null;
  signal: string | null;
}

/**
 * What a node offers to processes of others (`init({ resources })`), and what a caller asks for
 * (`subprocess.run(…, { resources })`): a node matches when it has at least the `cpus` and `memory` asked for and
 * every label asked for, with the same value.
 */
export interface ProcessResources {
  /** CPUs. Offered: defaults to the machine's (`os.availableParallelism()`). */
  cpus?: number;
  /** Memory in bytes. Offered: defaults to the machine's (`os.totalmem()`). */
  memory?: number;
  /** Custom labels (`{ gpu: "a100", zone: "eu" }`). */
  labels?: Record<string, string>;
}

/** A process runner's answer to `resources()`: what it offers and how busy it is. */
export interface AdvertisedResources {
  nodeId: string;
  cpus: number;
  memory: number;
  labels: Record<string, string>;
  /** Processes it runs now (placement prefers the least busy of the nodes that match). */
  running: number;
}

/** A process to start, as the platform (and a remote runner) takes it. `args[0]` is the command; no shell. */
export interface LocalSpawnSpec {
  args: string[];
  cwd?: string;
  /** Added to the environment of the process that starts it (not a replacement: see README "Processes"). */
  env?: Record<string, string>;
  stdin: StdioMode;
  stdout: StdioMode;
  stderr: StdioMode;
}

/** A process running on this node. */
export interface LocalProcess {
  readonly pid: number | undefined;
  /** `null` while it runs. */
  readonly exit: ProcessExit | null;
  /** Resolves once the process took the bytes (so a caller that awaits each write is paced by the process). */
  write(chunk: Uint8Array): Promise<void>;
  /** Closes its stdin. */
  end(): Promise<void>;
  /** Its stdout or stderr, read at the reader's pace (`undefined` when not piped). Can be read once. */
  output(which: "stdout" | "stderr"): AsyncIterable<Uint8Array> | undefined;
  wait(): Promise<ProcessExit>;
  /** Sends a signal (`"SIGTERM"` by default); `false` when the process had already exited. */
  kill(signal?: string): boolean;
}

/** What a node's process runner needs of its actor system (an `ActorSystem`, seen from below). */
export interface ProcessHost extends EventTarget {
  readonly nodeId: string;
  spawn(target: unknown, options: { name: string; public: boolean }): Promise<unknown>;
}

/** Process support of a runtime (Node, Deno). */
export interface ProcessSupport {
  /** Starts a process here; rejects with `PROCESS_FAILED` when it cannot be started (no such command…). */
  spawn(spec: LocalSpawnSpec): Promise<LocalProcess>;
  /** What this machine offers when `init({ resources })` does not say. */
  defaultResources(): { cpus: number; memory: number };
  /** Starts this node's process runner (`serveProcesses: true`), advertising `resources`. */
  serve(host: ProcessHost, resources: ProcessResources): Promise<void>;
}

const positive: Check<number> = (where, name, value) => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw invalid(`${where}: '${name}' must be a non-negative number, got ${show(value)}`);
  }
  return value;
};

/** A record of string values (environment variables, labels). */
export const stringRecord: Check<Record<string, string>> = (where, name, value) => {
  if (typeof value !== "object" || value === null || Array.isArray(value) || Object.values(value).some((v) => typeof v !== "string")) {
    throw invalid(`${where}: '${name}' must be an object of strings, got ${show(value)}`);
  }
  return value as Record<string, string>;
};

/** The checks of `ProcessResources` (`init({ resources })`, `subprocess.run(…, { resources })`). */
export const RESOURCES_OPTIONS = { cpus: positive, memory: positive, labels: stringRecord } satisfies OptionSchema<ProcessResources>;

