import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { ProcessExit } from "../platform/processes.js";
import { ProcessOutput } from "./output.js";

/** What a handle drives: a process here (`child_process`) or one a runner actor runs on another node. */
export interface ProcessBackend {
  readonly pid: number | undefined;
  /** Where it runs. */
  readonly nodeId: string;
  write(chunk: Uint8Array): Promise<void>;
  end(): Promise<void>;
  /** Opens stdout or stderr for reading (called once, when the user starts reading). */
  output(which: "stdout" | "stderr"): AsyncIterable<Uint8Array>;
  wait(): Promise<ProcessExit>;
  kill(signal: string): Promise<boolean>;
}

/** A process's stdin. Await each write to go at the process's pace. */
export interface ProcessInput {
  /** Resolves once the process took the bytes (strings are sent as UTF-8). */
  write(data: string | Uint8Array): Promise<void>;
  /** Closes stdin (the process sees end of input). */
  end(): Promise<void>;
}

/**
 * Largest piece a write sends at once: a big write goes as several calls, each well under the default 8 MiB frame
 * limit, and the process is never handed more than this ahead of what it took.
 */
const WRITE_PIECE = 256 * 1024;

const encoder = new TextEncoder();

/**
 * A running process, here or on another node: Node's `ChildProcess` and Python's `Popen` in one. `stdout` and
 * `stderr` are async iterables of chunks (`.lines()` for lines), `stdin` takes writes; `wait()`, `poll()`, `kill()`.
 */
export class Subprocess {
  /** The command line. */
  readonly args: readonly string[];
  /** The node that runs it (this node's id for a local process, when a system is running; else `"local"`). */
  readonly nodeId: string;
  readonly stdin: ProcessInput;
  readonly stdout: ProcessOutput;
  readonly stderr: ProcessOutput;
  readonly #backend: ProcessBackend;
  readonly #exited: Promise<ProcessExit>;
  #exit: ProcessExit | null = null;
  #writing: Promise<void> = Promise.resolve();

  /** @internal */
  constructor(args: readonly string[], backend: ProcessBackend, piped: { stdin: boolean; stdout: boolean; stderr: boolean }) {
    this.args = args;
    this.nodeId = backend.nodeId;
    this.#backend = backend;
    // Asked at once: poll() and exitCode need it, and a node that dies makes it (and so wait()) reject.
    this.#exited = backend.wait().then((exit) => (this.#exit = exit));
    this.#exited.catch(() => {}); // seen by whoever calls wait()
    this.stdout = new ProcessOutput(piped.stdout ? () => backend.output("stdout") : undefined, "stdout");
    this.stderr = new ProcessOutput(piped.stderr ? () => backend.output("stderr") : undefined, "stderr");
    this.stdin = piped.stdin
      ? { write: (data) => this.#write(data), end: () => this.#queue(() => backend.end()) }
      : {
          write: () => Promise.reject(notPiped()),
          end: () => Promise.reject(notPiped()),
        };
  }

  /** The process id on the node that runs it. */
  get pid(): number | undefined {
    return this.#backend.pid;
  }

  /** Its exit code once it has exited with one; `null` while it runs or when a signal ended it. */
  get exitCode(): number | null {
    return this.#exit?.exitCode ?? null;
  }

  /** The signal that ended it (`"SIGKILL"`…); `null` while it runs or when it exited with a code. */
  get signalCode(): string | null {
    return this.#exit?.signal ?? null;
  }

  /** Resolves when it has exited; rejects (`CONNECTION_LOST`, `NODE_DEAD`) when the node running it is lost. */
  wait(): Promise<ProcessExit> {
    return this.#exited;
  }

  /** How it exited, or `null` while it runs (as far as this side knows). */
  poll(): ProcessExit | null {
    return this.#exit;
  }

  /** Sends a signal (`"SIGTERM"` by default); resolves `false` when it had already exited. */
  async kill(signal: string = "SIGTERM"): Promise<boolean> {
    if (this.#exit !== null) return false;
    return this.#backend.kill(signal);
  }

  /** Writes go in order, each after the previous one was taken. */
  #write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (!(bytes instanceof Uint8Array)) return Promise.reject(new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "stdin.write(): expected a string or a Uint8Array"));
    return this.#queue(async () => {
      for (let at = 0; at < bytes.byteLength; at += WRITE_PIECE) {
        await this.#backend.write(bytes.subarray(at, Math.min(bytes.byteLength, at + WRITE_PIECE)));
      }
    });
  }

  #queue(step: () => Promise<void>): Promise<void> {
    const next = this.#writing.then(step);
    this.#writing = next.catch(() => {});
    return next;
  }
}

function notPiped(): PulsingRuntimeError {
  return new PulsingRuntimeError(ErrorCode.INVALID_STATE, 'stdin is not piped (spawn with stdin: "pipe")');
}
