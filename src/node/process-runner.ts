import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { AdvertisedResources, LocalProcess, ProcessExit, ProcessHost } from "../platform/processes.js";
import { stringRecord } from "../platform/processes.js";
import { checkArgs } from "../process/options.js";
import type { RunnerStartRequest } from "../process/remote.js";
import { checkOptions, oneOf, string, type OptionSchema } from "../util/options.js";
import { spawnLocal } from "./local-process.js";

/** How long an exited process's unread output is kept for its caller before it is dropped. */
const KEEP_EXITED_MS = 5 * 60_000;

const stdio = oneOf("pipe", "ignore", "inherit");
/** A start request from the network is checked like local options: callers may be any admitted member. */
const START_REQUEST = {
  args: (where, name, value) => checkArgs(where, value),
  cwd: string,
  env: stringRecord,
  stdin: stdio,
  stdout: stdio,
  stderr: stdio,
  caller: string,
} satisfies OptionSchema<RunnerStartRequest>;

interface Entry {
  process: LocalProcess;
  caller: string;
  /** Piped outputs not yet read to their end: the entry is forgotten once none is left (or after a while). */
  unread: Set<"stdout" | "stderr">;
  forget?: ReturnType<typeof setTimeout>;
}

/**
 * A node's process runner (`serveProcesses: true`), public as `pulsing/processes`: starts processes for other
 * nodes, streams their stdout and stderr as actor streams (credit-paced: the process waits for a slow reader),
 * takes stdin writes, signals and waits. A caller's processes are killed when the caller's node goes down, and all
 * of them when this actor stops.
 */
export class ProcessRunner {
  readonly #host: ProcessHost;
  readonly #resources: AdvertisedResources;
  readonly #processes = new Map<string, Entry>();
  #next = 0;
  readonly #onMemberDown = (event: Event): void => {
    const nodeId = (event as CustomEvent<{ nodeId: string }>).detail.nodeId;
    for (const [id, entry] of this.#processes) if (entry.caller === nodeId) this.#drop(id, entry, true);
  };

  constructor(host: ProcessHost, resources: Omit<AdvertisedResources, "running" | "nodeId">) {
    this.#host = host;
    this.#resources = { nodeId: host.nodeId, ...resources, running: 0 };
    host.addEventListener("member:down", this.#onMemberDown);
  }

  /** What this node offers, and how many processes it runs now. */
  resources(): AdvertisedResources {
    let running = 0;
    for (const entry of this.#processes.values()) if (entry.process.exit === null) running++;
    return { ...this.#resources, labels: { ...this.#resources.labels }, running };
  }

  async start(request: RunnerStartRequest): Promise<{ id: string; pid: number | undefined }> {
    checkOptions("process runner: start()", request, START_REQUEST);
    const { caller, ...spec } = request;
    const process = await spawnLocal(spec);
    const id = String(++this.#next);
    const unread = new Set<"stdout" | "stderr">();
    if (spec.stdout === "pipe") unread.add("stdout");
    if (spec.stderr === "pipe") unread.add("stderr");
    const entry: Entry = { process, caller, unread };
    this.#processes.set(id, entry);
    void process.wait().then(() => {
      if (this.#processes.get(id) !== entry) return;
      if (entry.unread.size === 0) this.#processes.delete(id);
      else (entry.forget = setTimeout(() => this.#drop(id, entry, false), KEEP_EXITED_MS)).unref?.();
    });
    return { id, pid: process.pid };
  }

  async *output(id: string, which: "stdout" | "stderr"): AsyncGenerator<Uint8Array, void, undefined> {
    if (which !== "stdout" && which !== "stderr") throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `output(): expected "stdout" or "stderr", got ${String(which)}`);
    const entry = this.#entry(id);
    const stream = entry.process.output(which);
    if (stream === undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `the process's ${which} is not piped`);
    try {
      // Pulled only while the caller's stream holds credit: the pipe fills and the process waits for the reader.
      for await (const chunk of stream) yield chunk as Uint8Array;
    } finally {
      entry.unread.delete(which);
      if (entry.unread.size === 0 && entry.process.exit !== null && this.#processes.get(id) === entry) this.#drop(id, entry, false);
    }
  }

  async write(id: string, chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "write(): expected bytes");
    await this.#stdinOf(id).process.write(chunk);
  }

  async end(id: string): Promise<void> {
    await this.#stdinOf(id).process.end();
  }

  kill(id: string, signal?: string): boolean {
    if (signal !== undefined && typeof signal !== "string") throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "kill(): the signal is a name such as \"SIGTERM\"");
    return this.#entry(id).process.kill(signal);
  }

  wait(id: string): Promise<ProcessExit> {
    return this.#entry(id).process.wait();
  }

  onStop(): void {
    this.#host.removeEventListener("member:down", this.#onMemberDown);
    for (const [id, entry] of this.#processes) this.#drop(id, entry, true);
  }

  #entry(id: string): Entry {
    const entry = typeof id === "string" ? this.#processes.get(id) : undefined;
    if (entry === undefined) throw new PulsingRuntimeError(ErrorCode.INVALID_STATE, `no process ${String(id)} on this node (it ended and its output was collected, or was never started here)`);
    return entry;
  }

  /** A process to write to: one this runner forgot (it exited and its output was read) has a closed stdin. */
  #stdinOf(id: string): Entry {
    const entry = typeof id === "string" ? this.#processes.get(id) : undefined;
    if (entry === undefined) throw new PulsingRuntimeError(ErrorCode.STREAM_CLOSED, `process ${String(id)} on this node has ended (or was never started here): its stdin is closed`);
    return entry;
  }

  #drop(id: string, entry: Entry, kill: boolean): void {
    clearTimeout(entry.forget);
    this.#processes.delete(id);
    if (kill) entry.process.kill("SIGKILL");
  }
}
