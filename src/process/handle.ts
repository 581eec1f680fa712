import { ErrorCode, PulsingRuntimeError, PulsingTimeoutError } from "../errors/errors.js";
import type { ProcessExit } from "../platform/processes.js";
import { within } from "../util/deadline.js";
import { checkCommunicateOptions, type CommunicateOptions } from "./options.js";
import { ProcessOutput } from "./output.js";

/** What `subprocess.run()` and `Subprocess.communicate()` resolve to (and what a `PROCESS_FAILED` error of `check: true` carries). */
export interface CompletedProcess<T extends string | Uint8Array = string | Uint8Array> {
  args: string[];
  /** The exit code; `null` when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it, else `null`. */
  signal: string | null;
  /** Captured output: text with `encoding`, else bytes; `undefined` when not captured (not piped). */
  stdout: T | undefined;
  stderr: T | undefined;
}

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
 * `stderr` are async iterables of chunks (`.lines()` for lines), `stdin` takes writes; `wait()`, `poll()`, `kill()`,
 * `communicate()`. `T` is what `communicate()` returns: `string` when spawned with an `encoding`, else bytes.
 */
export class Subprocess<T extends string | Uint8Array = string | Uint8Array> {
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
  readonly #stdinPiped: boolean;
  readonly #encoding: string | undefined;
  /** The one communication (`communicate()`): started by the first call, shared by the later ones. */
  #communication: Promise<CompletedProcess<T>> | undefined;

  /** @internal */
  constructor(
    args: readonly string[],
    backend: ProcessBackend,
    piped: { stdin: boolean; stdout: boolean; stderr: boolean },
    encoding?: string,
  ) {
    this.args = args;
    this.nodeId = backend.nodeId;
    this.#backend = backend;
    this.#stdinPiped = piped.stdin;
    this.#encoding = encoding;
    // Asked at once: poll() and exitCode need it, and a node that dies makes it (and so wait()) reject.
    this.#exited = backend.wait().then((exit) => (this.#exit = exit));
    this.#exited.catch(() => {}); // seen by whoever calls wait()
    this.stdout = new ProcessOutput(piped.stdout ? () => backend.output("stdout") : undefined, "stdout", encoding);
    this.stderr = new ProcessOutput(piped.stderr ? () => backend.output("stderr") : undefined, "stderr", encoding);
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

  /**
   * Python's `Popen.communicate()`: writes `input` to stdin and closes it (stdin is closed even without input, when
   * piped), reads stdout and stderr to their end at the same time (a process that fills both pipes cannot stall
   * it), waits for the exit, and resolves with all of it: `stdout` / `stderr` are text when spawned with an
   * `encoding`, else bytes, and `undefined` for a stream that is not piped. Everything read is held in memory.
   *
   * With `timeout` (ms) it rejects with `TIMEOUT` when that runs out and leaves the process running, as Python does:
   * the communication goes on in the background (reading the output, writing what is left of the input), and a
   * later call — without input — waits for the same result (`kill()` first to stop the process and get what it
   * wrote). Once it completed, further calls resolve to the same result.
   *
   * Rejects with `INVALID_STATE` for `input` when stdin is not piped or a communication has started, and when
   * stdout or stderr is already being read by other code.
   */
  async communicate(input?: string | Uint8Array, options?: CommunicateOptions): Promise<CompletedProcess<T>> {
    const { timeout } = checkCommunicateOptions("communicate()", options);
    if (input !== undefined) {
      if (typeof input !== "string" && !(input instanceof Uint8Array)) {
        throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "communicate(): 'input' must be a string or a Uint8Array");
      }
      if (!this.#stdinPiped) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, 'communicate(): input given, but stdin is not piped (spawn with stdin: "pipe")');
      if (this.#communication !== undefined) {
        throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, "communicate(): cannot send input after a communication started (call it again without input)");
      }
    }
    this.#communication ??= this.#communicate(input);
    if (timeout === undefined) return this.#communication;
    return within(this.#communication, timeout, () => {
      const error = new PulsingTimeoutError(`communicate() with ${JSON.stringify(this.args)}`, timeout);
      error.message += "; the process was left running (communicate() again to wait more, or kill() it)";
      return error;
    });
  }

  /** Starts the communication: throws (nothing started) when an output is being read elsewhere. */
  #communicate(input: string | Uint8Array | undefined): Promise<CompletedProcess<T>> {
    for (const output of [this.stdout, this.stderr]) {
      if (output.piped && output.taken) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `communicate(): ${output === this.stdout ? "stdout" : "stderr"} is being read already`);
    }
    // Both outputs are read from the start, while the input is written: each may need the others to move on.
    const stdout = this.stdout.piped ? this.stdout.bytes() : undefined;
    const stderr = this.stderr.piped ? this.stderr.bytes() : undefined;
    const feeding = this.#stdinPiped ? (input === undefined ? Promise.resolve() : this.stdin.write(input)).then(() => this.stdin.end()) : Promise.resolve();
    // A process that exits without reading all of its input (or whose stdin was closed already) is no error (as in Python).
    const fed = feeding.catch((error: unknown) => {
      if ((error as { code?: unknown }).code !== ErrorCode.STREAM_CLOSED) throw error;
    });
    const decode = (bytes: Uint8Array | undefined): T | undefined =>
      (bytes === undefined || this.#encoding === undefined ? bytes : new TextDecoder(this.#encoding).decode(bytes)) as T | undefined;
    const done = Promise.all([stdout, stderr, this.#exited, fed]).then(([out, err, exit]) => ({
      args: [...this.args],
      exitCode: exit.exitCode,
      signal: exit.signal,
      stdout: decode(out),
      stderr: decode(err),
    }));
    done.catch(() => {}); // seen by the calls that wait for it (one that timed out no longer does)
    return done;
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
