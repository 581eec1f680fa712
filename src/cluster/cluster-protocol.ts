import type { RegistrySnapshot } from "./registry.js";

/**
 * The cluster's own protocol, `/pulsing/cluster/1.0.0`: what members ask of each other for membership — a member
 * table (joining, anti-entropy), a probe on another's behalf (SWIM's indirect probe), a member's names, a head-node
 * worker's report. One request per stream (src/transport/request-stream.ts), answered to admitted peers only. Every
 * request is checked here before anything acts on it; the public system actor is not involved (it stays for
 * inspection: listActors, metrics, health, ping).
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
export type ClusterRequest = MembersRequest | ProbeRequest | NamesRequest | HeadRequest;

const MAX_CLUSTER_NAME = 256;
const MAX_HASH = 64;
const MAX_NODE_ID = 128;
const MAX_PROBE_MS = 10_000;

/** The request, if `value` is a well-formed one; undefined otherwise (the stream is then aborted). */
export function parseClusterRequest(value: unknown): ClusterRequest | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  switch (r.t) {
    case "members":
      if (typeof r.cluster !== "string" || r.cluster.length > MAX_CLUSTER_NAME) return undefined;
      if (r.hash !== undefined && (typeof r.hash !== "string" || r.hash.length > MAX_HASH)) return undefined;
      return { t: "members", cluster: r.cluster, ...(r.self !== undefined ? { self: r.self } : {}), ...(r.hash !== undefined ? { hash: r.hash as string } : {}) };
    case "probe":
      if (typeof r.target !== "string" || r.target.length > MAX_NODE_ID) return undefined;
      if (typeof r.timeoutMs !== "number" || !(r.timeoutMs > 0)) return undefined;
      return { t: "probe", target: r.target, timeoutMs: Math.min(r.timeoutMs, MAX_PROBE_MS) };
    case "names":
      return { t: "names" };
    case "head":
      return "report" in r ? { t: "head", report: r.report } : undefined;
    default:
      return undefined;
  }
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
