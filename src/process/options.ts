import { RESOURCES_OPTIONS, stringRecord, type ProcessResources, type StdioMode } from "../platform/processes.js";
import type { ActorSystem } from "../system/actor-system.js";
import {
  boolean,
  checkOptions,
  duration,
  invalid,
  nested,
  oneOf,
  show,
  string,
  type Check,
  type OptionSchema,
} from "../util/options.js";

/** Where a process runs: here (neither option), on a node, or on a node that has the resources asked for. */
export interface PlacementOptions {
  /** Run it on this node (a nodeId); that node must serve processes (`init({ serveProcesses: true })`). */
  node?: string;
  /** Run it on a node that serves processes and offers at least these (see `init({ resources })`). */
  resources?: ProcessResources;
  /** The actor system that reaches `node` / `resources`. @default the global one (`init()`) */
  system?: ActorSystem;
}

/** Options of `subprocess.spawn()`. */
export interface SpawnProcessOptions extends PlacementOptions {
  /** Working directory (on the node that runs it). */
  cwd?: string;
  /** Variables added to the environment of the process that runs it (this one, or the runner node's). */
  env?: Record<string, string>;
  /** `"pipe"` (write through `p.stdin`), `"ignore"` or `"inherit"` (of the process that runs it). @default "pipe" */
  stdin?: StdioMode;
  /** `"pipe"` (read `p.stdout`), `"ignore"` or `"inherit"`. @default "pipe" */
  stdout?: StdioMode;
  /** As `stdout`. @default "pipe" */
  stderr?: StdioMode;
  /**
   * Text encoding of the output (`"utf8"`…): `communicate()` then returns strings, and `lines()` / `text()` decode
   * with it by default. Chunks read from `stdout` / `stderr` are bytes either way.
   */
  encoding?: string;
}

/** Options of `Subprocess.communicate()`. */
export interface CommunicateOptions {
  /**
   * Milliseconds after which `communicate()` rejects with `TIMEOUT`. The process is **not** killed (as in Python):
   * call `communicate()` again (without input) to keep waiting, or `kill()` it and then call it for its output.
   */
  timeout?: number;
}

/** Options of `subprocess.run()`. */
export interface RunOptions extends PlacementOptions {
  /** Collect stdout and stderr into the result; without it they are inherited from the process that runs it. */
  captureOutput?: boolean;
  /** Written to the process's stdin, which is then closed (without it the process reads an empty stdin). */
  input?: string | Uint8Array;
  cwd?: string;
  env?: Record<string, string>;
  /** Milliseconds after which the process is killed (SIGKILL) and `run()` rejects with `TIMEOUT`. */
  timeout?: number;
  /** Reject with `PROCESS_FAILED` when the process ends with a non-zero code or a signal. @default false */
  check?: boolean;
  /** Decode captured output as text in this encoding (`"utf8"`…); without it, output is bytes. */
  encoding?: string;
}

const stdio = oneOf<StdioMode>("pipe", "ignore", "inherit");

const systemOption: Check<ActorSystem> = (where, name, value) => {
  if (typeof value !== "object" || value === null || typeof (value as { resolve?: unknown }).resolve !== "function") {
    throw invalid(`${where}: '${name}' must be an ActorSystem, got ${show(value)}`);
  }
  return value as ActorSystem;
};

const encoding: Check<string> = (where, name, value) => {
  string(where, name, value);
  try {
    new TextDecoder(value as string);
  } catch {
    throw invalid(`${where}: '${name}' is not an encoding TextDecoder knows, got ${show(value)}`);
  }
  return value as string;
};

const input: Check<string | Uint8Array> = (where, name, value) => {
  if (typeof value !== "string" && !(value instanceof Uint8Array)) {
    throw invalid(`${where}: '${name}' must be a string or a Uint8Array, got ${show(value)}`);
  }
  return value;
};

const PLACEMENT = { node: string, resources: nested(RESOURCES_OPTIONS), system: systemOption };

export const SPAWN_PROCESS_OPTIONS = {
  ...PLACEMENT,
  cwd: string,
  env: stringRecord,
  stdin: stdio,
  stdout: stdio,
  stderr: stdio,
  encoding,
} satisfies OptionSchema<SpawnProcessOptions>;

export const COMMUNICATE_OPTIONS = { timeout: duration } satisfies OptionSchema<CommunicateOptions>;

export const RUN_OPTIONS = {
  ...PLACEMENT,
  captureOutput: boolean,
  input,
  cwd: string,
  env: stringRecord,
  timeout: duration,
  check: boolean,
  encoding,
} satisfies OptionSchema<RunOptions>;

/** The command line: a non-empty array of strings, the command first (no shell). */
export function checkArgs(where: string, args: unknown): string[] {
  if (!Array.isArray(args) || args.length === 0 || args.some((a) => typeof a !== "string")) {
    throw invalid(`${where}: 'args' must be a non-empty array of strings (the command first), got ${show(args)}`);
  }
  if ((args[0] as string).length === 0) throw invalid(`${where}: the command (args[0]) is empty`);
  return [...(args as string[])];
}

export function checkSpawnOptions(where: string, options: SpawnProcessOptions | undefined): SpawnProcessOptions {
  return checkOptions(where, options ?? {}, SPAWN_PROCESS_OPTIONS);
}

export function checkCommunicateOptions(where: string, options: CommunicateOptions | undefined): CommunicateOptions {
  return checkOptions(where, options ?? {}, COMMUNICATE_OPTIONS);
}

export function checkRunOptions(where: string, options: RunOptions | undefined): RunOptions {
  return checkOptions(where, options ?? {}, RUN_OPTIONS);
}
