import type { ActorProxy } from "../actor/proxy-types.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { PROCESS_RUNNER_NAME, type AdvertisedResources, type LocalSpawnSpec, type ProcessExit, type ProcessResources } from "../platform/processes.js";
import type { ActorSystem } from "../system/actor-system.js";
import type { ProcessBackend } from "./handle.js";

/**
 * Chunks of output a runner may send ahead of the reader (chunks are up to 64 KiB: at most ~1 MiB in flight per
 * stream). Fixed, not adaptive: a stream's adaptive window grows to 1024 items, 64 MiB of output nobody has read.
 */
const OUTPUT_WINDOW = 16;
/** How long to wait for a named node's runner to be known here (names spread with membership). */
const RUNNER_LOOKUP_MS = 2_000;
/** How long a runner may take to say what it offers before placement goes on without it. */
const RESOURCES_ASK_MS = 5_000;

/** What the runner actor's `start()` takes: the process and the node that asked (its processes die with it). */
export interface RunnerStartRequest extends LocalSpawnSpec {
  caller: string;
}

/** A process run by the runner actor `runner` (on `nodeId`), known there as `id`. */
export class RemoteBackend implements ProcessBackend {
  readonly pid: number | undefined;
  readonly nodeId: string;
  readonly #runner: ActorProxy<any>;
  readonly #id: string;

  constructor(runner: ActorProxy<any>, nodeId: string, started: { id: string; pid: number | undefined }) {
    this.#runner = runner;
    this.nodeId = nodeId;
    this.#id = started.id;
    this.pid = started.pid;
  }

  async write(chunk: Uint8Array): Promise<void> {
    await this.#runner.write(this.#id, chunk);
  }

  async end(): Promise<void> {
    await this.#runner.end(this.#id);
  }

  output(which: "stdout" | "stderr"): AsyncIterable<Uint8Array> {
    // An actor stream: the runner pulls the pipe only while it holds credit, so the process waits for this reader.
    return this.#runner.withOptions({ bufferSize: OUTPUT_WINDOW }).output(this.#id, which) as AsyncIterable<Uint8Array>;
  }

  wait(): Promise<ProcessExit> {
    return this.#runner.wait(this.#id);
  }

  kill(signal: string): Promise<boolean> {
    return this.#runner.kill(this.#id, signal);
  }
}

/** Starts `spec` on the runner of `nodeId`. */
export async function startRemote(system: ActorSystem, runner: ActorProxy<any>, nodeId: string, spec: LocalSpawnSpec): Promise<RemoteBackend> {
  const request: RunnerStartRequest = { ...spec, caller: system.nodeId };
  const started = (await runner.start(request)) as { id: string; pid: number | undefined };
  return new RemoteBackend(runner, nodeId, started);
}

/**
 * The runner of the named node. A node that is not a member fails as any call to it would (`NODE_UNKNOWN`,
 * `NODE_DEAD`); one without a runner did not opt in: `PROCESSES_NOT_SERVED`.
 */
export async function runnerOn(system: ActorSystem, nodeId: string): Promise<ActorProxy<any>> {
  const member = system.members().find((m) => m.nodeId === nodeId);
  if (member === undefined) throw new PulsingRuntimeError(ErrorCode.NODE_UNKNOWN, `subprocess: node ${nodeId} is not a member of this cluster`);
  if (member.status === "dead") throw new PulsingRuntimeError(ErrorCode.NODE_DEAD, `subprocess: node ${nodeId} is dead`);
  try {
    const ref = await system.resolve(PROCESS_RUNNER_NAME, { nodeId, timeout: RUNNER_LOOKUP_MS });
    return ref.asAny();
  } catch (error) {
    if ((error as { code?: unknown }).code !== ErrorCode.ACTOR_NOT_FOUND) throw error;
    throw new PulsingRuntimeError(
      ErrorCode.PROCESSES_NOT_SERVED,
      `subprocess: node ${nodeId} does not run processes for other nodes (it was not started with 'serveProcesses: true')`,
    );
  }
}

/** Whether `offered` has at least what `wanted` asks for. */
export function satisfies(offered: AdvertisedResources, wanted: ProcessResources): boolean {
  if (wanted.cpus !== undefined && offered.cpus < wanted.cpus) return false;
  if (wanted.memory !== undefined && offered.memory < wanted.memory) return false;
  return Object.entries(wanted.labels ?? {}).every(([key, value]) => offered.labels[key] === value);
}

/**
 * A runner whose node offers `wanted` (with `node`: that node's, if it does). Asks the runners of the alive Node and
 * Deno members (tabs never serve processes) what they offer, and picks the least busy of those that match.
 */
export async function placeByResources(
  system: ActorSystem,
  wanted: ProcessResources,
  node: string | undefined,
): Promise<{ runner: ActorProxy<any>; nodeId: string }> {
  const candidates =
    node !== undefined ? [node] : system.members().filter((m) => m.status === "alive" && m.runtime !== "browser").map((m) => m.nodeId);
  const answers = await Promise.all(
    candidates.map(async (nodeId) => {
      try {
        const runner = node !== undefined ? await runnerOn(system, nodeId) : (await system.resolve(PROCESS_RUNNER_NAME, { nodeId })).asAny();
        const offered = (await runner.withOptions({ timeout: RESOURCES_ASK_MS }).resources()) as AdvertisedResources;
        return { runner, nodeId, offered };
      } catch (error) {
        if (node !== undefined) throw error; // the one node asked for: say why
        return undefined; // not serving, or not answering: not a candidate
      }
    }),
  );
  const serving = answers.filter((a) => a !== undefined);
  const matching = serving.filter((a) => satisfies(a.offered, wanted));
  if (matching.length === 0) {
    const where = node !== undefined ? `node ${node}` : `none of the ${serving.length} node(s) that serve processes`;
    throw new PulsingRuntimeError(ErrorCode.PROCESSES_NOT_SERVED, `subprocess: ${where} offers the resources asked for (${JSON.stringify(wanted)})`);
  }
  // Least busy first; among equals this node (no network hop), then any.
  matching.sort((a, b) => a.offered.running - b.offered.running || Number(b.nodeId === system.nodeId) - Number(a.nodeId === system.nodeId));
  const best = matching.filter((m) => m.offered.running === matching[0]!.offered.running);
  const chosen = best[0]!.nodeId === system.nodeId ? best[0]! : best[Math.floor(Math.random() * best.length)]!;
  return { runner: chosen.runner, nodeId: chosen.nodeId };
}
