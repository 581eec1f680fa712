import { platform } from "#platform";
import { ErrorCode, PulsingRuntimeError, PulsingTimeoutError } from "../errors/errors.js";
import { getSystem, isInitialized } from "../global.js";
import type { LocalSpawnSpec } from "../platform/processes.js";
import { Subprocess, type ProcessBackend } from "./handle.js";
import { checkArgs, checkRunOptions, checkSpawnOptions, type RunOptions, type SpawnProcessOptions } from "./options.js";
import { placeByResources, runnerOn, startRemote } from "./remote.js";

/** What `subprocess.run()` resolves to (and what a `PROCESS_FAILED` error of `check: true` carries). */
export interface CompletedProcess<T extends string | Uint8Array = string | Uint8Array> {
  args: string[];
  /** The exit code; `null` when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it, else `null`. */
  signal: string | null;
  /** Captured output (`captureOutput: true`): text with `encoding`, else bytes; `undefined` when not captured. */
  stdout: T | undefined;
  stderr: T | undefined;
}

/** `subprocess.run(…, { check: true })` saw the process fail: a `PulsingRuntimeError` (`PROCESS_FAILED`) with its result. */
export class ProcessFailedError extends PulsingRuntimeError implements CompletedProcess {
  readonly args: string[];
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string | Uint8Array | undefined;
  readonly stderr: string | Uint8Array | undefined;
  constructor(done: CompletedProcess) {
    const how = done.signal !== null ? `was ended by ${done.signal}` : `exited with code ${done.exitCode}`;
    super(ErrorCode.PROCESS_FAILED, `command ${JSON.stringify(done.args)} ${how}${tail(done.stderr)}`);
    this.args = done.args;
    this.exitCode = done.exitCode;
    this.signal = done.signal;
    this.stdout = done.stdout;
    this.stderr = done.stderr;
  }
}

/** The end of captured stderr, for the message (the whole of it is on the error). */
function tail(stderr: string | Uint8Array | undefined): string {
  if (stderr === undefined || stderr.length === 0) return "";
  const text = (typeof stderr === "string" ? stderr : new TextDecoder().decode(stderr.subarray(-400))).trim();
  return text.length === 0 ? "" : `: ${text.slice(-300)}`;
}

/**
 * Starts a process and returns its handle. Without `node` or `resources` it runs here (`child_process`; a browser
 * tab has none and must name a node); with them, on a node that serves processes, its stdio streamed over the mesh.
 */
export async function spawn(args: readonly string[], options?: SpawnProcessOptions): Promise<Subprocess> {
  const command = checkArgs("subprocess.spawn()", args);
  const checked = checkSpawnOptions("subprocess.spawn()", options);
  const spec: LocalSpawnSpec = {
    args: command,
    ...(checked.cwd !== undefined && { cwd: checked.cwd }),
    ...(checked.env !== undefined && { env: checked.env }),
    stdin: checked.stdin ?? "pipe",
    stdout: checked.stdout ?? "pipe",
    stderr: checked.stderr ?? "pipe",
  };
  const backend = await start(spec, checked, "subprocess.spawn()");
  return new Subprocess(command, backend, { stdin: spec.stdin === "pipe", stdout: spec.stdout === "pipe", stderr: spec.stderr === "pipe" });
}

/**
 * Runs a process to its end (as Python's `subprocess.run`): writes `input`, collects the output with
 * `captureOutput`, kills it after `timeout` ms (rejecting with `TIMEOUT`), and with `check` rejects with
 * `PROCESS_FAILED` when it fails.
 */
export async function run(args: readonly string[], options: RunOptions & { encoding: string }): Promise<CompletedProcess<string>>;
export async function run(args: readonly string[], options?: RunOptions): Promise<CompletedProcess<Uint8Array>>;
export async function run(args: readonly string[], options?: RunOptions): Promise<CompletedProcess> {
  const command = checkArgs("subprocess.run()", args);
  const o = checkRunOptions("subprocess.run()", options);
  const capture = o.captureOutput === true;
  let expired: PulsingTimeoutError | undefined;
  let process: Subprocess | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    if (o.timeout === undefined) return;
    timer = setTimeout(() => {
      const error = (expired = new PulsingTimeoutError(`subprocess.run(${JSON.stringify(command)})`, o.timeout));
      error.message += process !== undefined ? "; the process was killed (SIGKILL)" : "; it had not started yet";
      // Killed before rejecting, so nothing is left running; a lost node cannot make this wait forever.
      const killing = process === undefined ? Promise.resolve() : process.kill("SIGKILL").then(() => bounded(process!.wait(), 2_000));
      void killing.catch(() => {}).then(() => reject(error));
    }, o.timeout);
  });
  timedOut.catch(() => {});
  try {
    const work = (async () => {
      const spawning = spawn(command, {
        ...(o.node !== undefined && { node: o.node }),
        ...(o.resources !== undefined && { resources: o.resources }),
        ...(o.system !== undefined && { system: o.system }),
        ...(o.cwd !== undefined && { cwd: o.cwd }),
        ...(o.env !== undefined && { env: o.env }),
        stdin: o.input !== undefined ? "pipe" : "ignore",
        stdout: capture ? "pipe" : "inherit",
        stderr: capture ? "pipe" : "inherit",
      });
      const p = (process = await spawning);
      if (expired !== undefined) {
        // It started after the timeout fired: it must not outlive run().
        void p.kill("SIGKILL").catch(() => {});
        throw expired;
      }
      const feeding = o.input === undefined ? Promise.resolve() : p.stdin.write(o.input).then(() => p.stdin.end());
      // A process that exits without reading all of its input is not an error of run() (as in Python).
      const fed = feeding.catch((error: unknown) => {
        if ((error as { code?: unknown }).code !== ErrorCode.STREAM_CLOSED) throw error;
      });
      const [stdout, stderr, exit] = await Promise.all([
        capture ? p.stdout.bytes() : undefined,
        capture ? p.stderr.bytes() : undefined,
        p.wait(),
        fed,
      ]);
      if (expired !== undefined) throw expired; // it ended because the timeout killed it
      return { exit, stdout, stderr };
    })();
    const { exit, stdout, stderr } = await Promise.race([work, timedOut]);
    const decode = (bytes: Uint8Array | undefined) => (bytes === undefined || o.encoding === undefined ? bytes : new TextDecoder(o.encoding).decode(bytes));
    const done: CompletedProcess = { args: command, exitCode: exit.exitCode, signal: exit.signal, stdout: decode(stdout), stderr: decode(stderr) };
    if (o.check === true && (exit.exitCode !== 0 || exit.signal !== null)) throw new ProcessFailedError(done);
    return done;
  } finally {
    clearTimeout(timer);
  }
}

/** Where a process goes: here, on the named node, or on a node with the resources asked for. */
async function start(spec: LocalSpawnSpec, o: SpawnProcessOptions, where: string): Promise<ProcessBackend> {
  const remote = o.node !== undefined || o.resources !== undefined;
  const system = remote ? (o.system ?? getSystem()) : o.system ?? (isInitialized() ? getSystem() : undefined);
  if (!remote || (o.node === system!.nodeId && o.resources === undefined)) return startLocal(spec, system?.nodeId, where);
  if (o.resources !== undefined) {
    const { runner, nodeId } = await placeByResources(system!, o.resources, o.node);
    return startRemote(system!, runner, nodeId, spec);
  }
  return startRemote(system!, await runnerOn(system!, o.node!), o.node!, spec);
}

async function startLocal(spec: LocalSpawnSpec, nodeId: string | undefined, where: string): Promise<ProcessBackend> {
  if (platform.processes === undefined) {
    throw new PulsingRuntimeError(
      ErrorCode.UNSUPPORTED,
      `${where}: this runtime (${platform.runtime}) cannot start processes itself: give 'node' or 'resources' to run it on a Node or Deno node`,
    );
  }
  const child = await (await platform.processes()).spawn(spec);
  return {
    pid: child.pid,
    nodeId: nodeId ?? "local",
    write: (chunk) => child.write(chunk),
    end: () => child.end(),
    output: (which) => child.output(which)!,
    wait: () => child.wait(),
    kill: async (signal) => child.kill(signal),
  };
}

function bounded<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      () => (clearTimeout(timer), resolve(undefined)),
    );
  });
}

/** `subprocess.run()` and `subprocess.spawn()`. */
export const subprocess = { run, spawn } as const;

