import { platform } from "#platform";
import { ErrorCode, PulsingRuntimeError, PulsingTimeoutError } from "../errors/errors.js";
import { getSystem, isInitialized } from "../global.js";
import type { LocalSpawnSpec } from "../platform/processes.js";
import { within } from "../util/deadline.js";
import { Subprocess, type CompletedProcess, type ProcessBackend } from "./handle.js";
import { checkArgs, checkRunOptions, checkSpawnOptions, type RunOptions, type SpawnProcessOptions } from "./options.js";
import { placeByResources, runnerOn, startRemote } from "./remote.js";

export type { CompletedProcess } from "./handle.js";

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
export async function spawn(args: readonly string[], options: SpawnProcessOptions & { encoding: string }): Promise<Subprocess<string>>;
export async function spawn(args: readonly string[], options?: SpawnProcessOptions & { encoding?: undefined }): Promise<Subprocess<Uint8Array>>;
export async function spawn(args: readonly string[], options?: SpawnProcessOptions): Promise<Subprocess>;
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
  const piped = { stdin: spec.stdin === "pipe", stdout: spec.stdout === "pipe", stderr: spec.stderr === "pipe" };
  return new Subprocess(command, backend, piped, checked.encoding);
}

/**
 * Runs a process to its end (as Python's `subprocess.run`): `spawn()` then `communicate()` — writes `input`,
 * collects the output with `captureOutput`, kills it after `timeout` ms (rejecting with `TIMEOUT`; the timeout
 * counts from the call, starting included), and with `check` rejects with `PROCESS_FAILED` when it fails.
 */
export async function run(args: readonly string[], options: RunOptions & { encoding: string }): Promise<CompletedProcess<string>>;
export async function run(args: readonly string[], options?: RunOptions & { encoding?: undefined }): Promise<CompletedProcess<Uint8Array>>;
export async function run(args: readonly string[], options?: RunOptions): Promise<CompletedProcess>;
export async function run(args: readonly string[], options?: RunOptions): Promise<CompletedProcess> {
  const command = checkArgs("subprocess.run()", args);
  const o = checkRunOptions("subprocess.run()", options);
  const capture = o.captureOutput === true;
  const startedAt = Date.now();
  const expired = (what: string): PulsingTimeoutError => {
    const error = new PulsingTimeoutError(`subprocess.run(${JSON.stringify(command)})`, o.timeout);
    error.message += what;
    return error;
  };
  const spawning = spawn(command, {
    ...(o.node !== undefined && { node: o.node }),
    ...(o.resources !== undefined && { resources: o.resources }),
    ...(o.system !== undefined && { system: o.system }),
    ...(o.cwd !== undefined && { cwd: o.cwd }),
    ...(o.env !== undefined && { env: o.env }),
    ...(o.encoding !== undefined && { encoding: o.encoding }),
    stdin: o.input !== undefined ? "pipe" : "ignore",
    stdout: capture ? "pipe" : "inherit",
    stderr: capture ? "pipe" : "inherit",
  });
  const p =
    o.timeout === undefined
      ? await spawning
      : await within(spawning, o.timeout, () => {
          // It may still start (a slow node): it must not outlive run().
          void spawning.then((late) => late.kill("SIGKILL")).catch(() => {});
          return expired("; it had not started yet");
        });
  let done: CompletedProcess;
  // run()'s own timer, told apart from a TIMEOUT of a call to the process's node by identity.
  const ranOut = expired("; the process was killed (SIGKILL)");
  try {
    const communicating = p.communicate(o.input);
    done = o.timeout === undefined ? await communicating : await within(communicating, o.timeout - (Date.now() - startedAt), () => ranOut);
  } catch (error) {
    if (error !== ranOut) throw error;
    // Killed before rejecting, so nothing is left running; a lost node cannot make this wait forever.
    await p
      .kill("SIGKILL")
      .then(() => within(p.wait(), 2_000, () => ranOut))
      .catch(() => {});
    throw ranOut;
  }
  if (o.check === true && (done.exitCode !== 0 || done.signal !== null)) throw new ProcessFailedError(done);
  return done;
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

/** `subprocess.run()` and `subprocess.spawn()`. */
export const subprocess = { run, spawn } as const;

