import { spawn as spawnChild, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { LocalProcess, LocalSpawnSpec, ProcessExit } from "../platform/processes.js";

/**
 * Starts a process with `child_process.spawn` (no shell) and resolves once it runs; rejects with `PROCESS_FAILED`
 * when it cannot start (no such command, a bad `cwd`).
 */
export async function spawnLocal(spec: LocalSpawnSpec): Promise<LocalProcess> {
  const [command, ...rest] = spec.args;
  let child: ChildProcess;
  try {
    child = spawnChild(command!, rest, {
      cwd: spec.cwd,
      env: spec.env === undefined ? undefined : { ...process.env, ...spec.env },
      stdio: [spec.stdin, spec.stdout, spec.stderr],
      windowsHide: true,
    });
  } catch (error) {
    throw startFailed(command!, error);
  }
  // A pipe's 'error' (EPIPE once the process is gone) with no listener would crash this whole node.
  for (const stream of [child.stdin, child.stdout, child.stderr]) stream?.on("error", () => {});
  // Node resumes (drains into nowhere) the pipes nobody listens to when the process exits: a fast process's output
  // would be gone before a reader on another node asks for it. A 'readable' listener keeps it, read at our pace.
  for (const stream of [child.stdout, child.stderr]) stream?.on("readable", () => {});
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (error) => reject(startFailed(command!, error)));
  });
  return new NodeProcess(child);
}

function startFailed(command: string, error: unknown): PulsingRuntimeError {
  return new PulsingRuntimeError(ErrorCode.PROCESS_FAILED, `could not start '${command}': ${(error as Error).message}`, error);
}

class NodeProcess implements LocalProcess {
  readonly #child: ChildProcess;
  readonly #exited: Promise<ProcessExit>;
  #exit: ProcessExit | null = null;
  readonly #taken = new Set<string>();

  constructor(child: ChildProcess) {
    this.#child = child;
    // 'exit', not 'close': 'close' waits for the pipes to drain, which never happens if nobody reads them.
    this.#exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.#exit = { exitCode: code, signal };
        resolve(this.#exit);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get exit(): ProcessExit | null {
    return this.#exit;
  }

  write(chunk: Uint8Array): Promise<void> {
    const stdin = this.#stdin();
    return new Promise((resolve, reject) => {
      // The callback runs once the chunk is handed to the OS: a writer that awaits it goes at the process's pace.
      stdin.write(chunk, (error) => (error ? reject(closed("stdin", error)) : resolve()));
    });
  }

  end(): Promise<void> {
    const stdin = this.#stdin();
    if (stdin.writableFinished || stdin.destroyed) return Promise.resolve();
    return new Promise((resolve) => stdin.end(() => resolve()));
  }

  output(which: "stdout" | "stderr"): AsyncIterable<Uint8Array> | undefined {
    const stream: Readable | null = this.#child[which];
    if (stream === null) return undefined;
    if (this.#taken.has(which)) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `the process's ${which} is being read already`);
    this.#taken.add(which);
    // A Readable's async iterator pulls only when asked: an idle reader leaves the pipe full and the process waits.
    return stream;
  }

  wait(): Promise<ProcessExit> {
    return this.#exited;
  }

  kill(signal: string = "SIGTERM"): boolean {
    if (this.#exit !== null) return false;
    try {
      return this.#child.kill(signal as NodeJS.Signals);
    } catch (error) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `kill(): ${(error as Error).message}`, error);
    }
  }

  #stdin(): Writable {
    const stdin = this.#child.stdin;
    if (stdin === null) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, "the process's stdin is not piped (spawn it with stdin: \"pipe\")");
    if (stdin.writableEnded || stdin.destroyed) throw closed("stdin");
    return stdin;
  }
}

function closed(what: string, cause?: unknown): PulsingRuntimeError {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new PulsingRuntimeError(ErrorCode.STREAM_CLOSED, `the process's ${what} is closed${detail}`, cause);
}
