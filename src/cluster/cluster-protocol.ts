import type { LocalSpawnOptions } from "../actor/local-actors.js";
import { SUPERVISION_OPTIONS } from "../actor/supervision.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { array, boolean, checkOptions, integer, string, type OptionSchema } from "../util/options.js";
import type { RegistrySnapshot } from "./registry.js";

/**
 * The cluster's own protocol, `/pulsing/cluster/1.0.0`: what members ask of each other — a member table (joining,
 * anti-entropy), a probe on another's behalf (SWIM's indirect probe), a member's names, a head-node worker's
 * report, a spawn for another node (`spawn(Cls, { node })`). One request per stream
 * (src/transport/request-stream.ts), answered to admitted peers only. Every request is checked here before anything
 * acts on it; a request that is not one is refused with a `PulsingRuntimeError` (code `PROTOCOL_ERROR`), which the
 * asker receives. The public system actor is not involved (it stays for inspection: listActors, metrics, health,
 * ping).
 */
export const CLUSTER_PROTOCOL = "/pulsing/cluster/1.0.0";

/** Bounds of one exchange: a request is small (a head report carries a worker's names: up to 1 MiB). */
export const CLUSTER_LIMITS = { maxRequestBytes: 1 << 20, maxAnswerBytes: 16 << 20, timeoutMs: 10_000 };

/** A member table (untrusted entries, checked by the membership). `hash`: of the asker's table, for an empty answer when equal. */
export interface MembersRequest {
  t: "members";
  cluster: string;
  self?: unknown;
  hash?: string;
}
/** Ping `target` for the asker, within `timeoutMs`. */
export interface ProbeRequest {
  t: "probe";
  target: string;
  timeoutMs: number;
}
/** The answerer's public names, versioned. */
export interface NamesRequest {
  t: "names";
}
/** Head-node mode: a worker's report to its head (untrusted, checked by the head). */
export interface HeadRequest {
  t: "head";
  report: unknown;
}
/**
 * Spawn an instance of the class registered on the answering node as `className` (what `spawn(Cls, { node })`
 * asks). Answer: `{ actorId, name? }`; a failure (`CLASS_NOT_REGISTERED`, `NAME_TAKEN`, an error of the
 * constructor or `onStart`) is the error, code included.
 */
export interface SpawnRequest {
  t: "spawn";
  className: string;
  options: SpawnRequestOptions;
}
export type ClusterRequest = MembersRequest | ProbeRequest | NamesRequest | HeadRequest | SpawnRequest;

/** The spawn options a remote spawn forwards: `spawn()`'s own, without `node` (it is there) and `signal` (it stays with the caller). */
export type SpawnRequestOptions = Omit<LocalSpawnOptions, "signal">;

/** The checks of `SpawnRequestOptions`: any other key (`node`, `signal`, a misspelling) refuses the request. */
export const SPAWN_REQUEST_OPTIONS = {
  name: string,
  public: boolean,
  args: array,
  concurrency: integer(1, true),
  ...SUPERVISION_OPTIONS,
} satisfies OptionSchema<SpawnRequestOptions>;

/** A spawn's answer: the actor it started. */
export interface SpawnAnswer {
  actorId: string;
  name?: string;
}

const MAX_CLUSTER_NAME = 256;
const MAX_HASH = 64;
const MAX_NODE_ID = 128;
const MAX_PROBE_MS = 10_000;
const MAX_CLASS_NAME = 256;

/** `value` as a cluster request; a `PulsingRuntimeError` (code `PROTOCOL_ERROR`) saying why when it is not one. */
export function parseClusterRequest(value: unknown): ClusterRequest {
  if (!isPlainObject(value)) throw refused("not an object");
  const r = value as Record<string, unknown>;
  switch (r.t) {
    case "members":
      if (typeof r.cluster !== "string" || r.cluster.length > MAX_CLUSTER_NAME) throw refused(`members: 'cluster' must be a string of at most ${MAX_CLUSTER_NAME} characters`);
      if (r.hash !== undefined && (typeof r.hash !== "string" || r.hash.length > MAX_HASH)) throw refused(`members: 'hash' must be a string of at most ${MAX_HASH} characters`);
      return { t: "members", cluster: r.cluster, ...(r.self !== undefined ? { self: r.self } : {}), ...(r.hash !== undefined ? { hash: r.hash as string } : {}) };
    case "probe":
      if (typeof r.target !== "string" || r.target.length > MAX_NODE_ID) throw refused(`probe: 'target' must be a node id of at most ${MAX_NODE_ID} characters`);
      if (typeof r.timeoutMs !== "number" || !(r.timeoutMs > 0)) throw refused("probe: 'timeoutMs' must be a positive number");
      return { t: "probe", target: r.target, timeoutMs: Math.min(r.timeoutMs, MAX_PROBE_MS) };
    case "names":
      return { t: "names" };
    case "head":
      if (!("report" in r)) throw refused("head: 'report' is missing");
      return { t: "head", report: r.report };
    case "spawn":
      return { t: "spawn", className: checkClassName(r.className), options: checkSpawnOptions(r.options) };
    default:
      throw refused(`unknown request type ${typeof r.t === "string" ? `'${r.t.slice(0, 64)}'` : typeof r.t}`);
  }
}

function checkClassName(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > MAX_CLASS_NAME) {
    throw refused(`spawn: 'className' must be a non-empty string of at most ${MAX_CLASS_NAME} characters`);
  }
  return value;
}

function checkSpawnOptions(value: unknown): SpawnRequestOptions {
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw refused("spawn: 'options' must be a plain object");
  try {
    return { ...checkOptions("spawn request", value as SpawnRequestOptions, SPAWN_REQUEST_OPTIONS) };
  } catch (error) {
    throw refused(`spawn: ${(error as Error).message}`);
  }
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function refused(why: string): PulsingRuntimeError {
  return new PulsingRuntimeError(ErrorCode.PROTOCOL_ERROR, `not a cluster request: ${why}`);
}

/** A spawn's answer from node `nodeId` (untrusted): undefined when it is not one, or names another node's actor. */
export function toSpawnAnswer(value: unknown, nodeId: string): SpawnAnswer | undefined {
  if (!isPlainObject(value)) return undefined;
  const { actorId, name } = value as Partial<SpawnAnswer>;
  if (typeof actorId !== "string" || !actorId.startsWith(`${nodeId}:`) || !/^\d+$/.test(actorId.slice(nodeId.length + 1))) return undefined;
  if (name !== undefined && typeof name !== "string") return undefined;
  return name === undefined ? { actorId } : { actorId, name };
}

/** A names answer as a registry snapshot: entries of another shape dropped; undefined when it is not one at all. */
export function toRegistrySnapshot(value: unknown): RegistrySnapshot | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const s = value as Partial<RegistrySnapshot>;
  if (!Number.isSafeInteger(s.incarnation) || !Number.isSafeInteger(s.version) || !Array.isArray(s.names)) return undefined;
  const names = (s.names as unknown[]).filter(
    (entry): entry is [string, number] => Array.isArray(entry) && typeof entry[0] === "string" && Number.isSafeInteger(entry[1]),
  );
  return { incarnation: s.incarnation!, version: s.version!, names };
}
