import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { invalid, show, type Check } from "../util/options.js";
import type { NameEntry } from "./registry.js";

/**
 * Which instance `resolve(name)` returns when several nodes host the name. Built in: `"round-robin"` (the
 * default: successive resolves rotate through the instances), `"random"`, `"local-first"` (this node's
 * instance when it has one, else round-robin). Or a function choosing from the candidates (sorted by node id).
 */
export type ResolvePolicy = "round-robin" | "random" | "local-first" | ((candidates: readonly NameEntry[], name: string) => NameEntry);

const BUILT_IN = ["round-robin", "random", "local-first"];

/** The option check for a resolve policy (`resolvePolicy` of a system, `policy` of one `resolve()`). */
export const resolvePolicyOption: Check<ResolvePolicy> = (where, name, value) => {
  if (typeof value === "function" || (typeof value === "string" && BUILT_IN.includes(value))) return value as ResolvePolicy;
  throw invalid(`${where}: '${name}' must be "round-robin", "random", "local-first" or a function, got ${show(value)}`);
};

export class Resolver {
  readonly #policy: ResolvePolicy;
  readonly #selfId: string;
  readonly #turns = new Map<string, number>();

  constructor(policy: ResolvePolicy | undefined, selfId: string) {
    this.#policy = policy === undefined ? "round-robin" : resolvePolicyOption("actorSystem()", "resolvePolicy", policy);
    this.#selfId = selfId;
  }

  pick(name: string, candidates: readonly NameEntry[], policy: ResolvePolicy = this.#policy): NameEntry {
    if (candidates.length === 1) return candidates[0]!;
    if (typeof policy === "function") {
      const chosen = policy(candidates, name);
      if (!candidates.includes(chosen)) {
        throw new PulsingRuntimeError(
          ErrorCode.INVALID_ARGUMENT,
          `resolvePolicy returned something that is not one of the candidates for '${name}'`,
        );
      }
      return chosen;
    }
    if (policy === "random") return candidates[Math.floor(Math.random() * candidates.length)]!;
    if (policy === "local-first") {
      const local = candidates.find((c) => c.nodeId === this.#selfId);
      if (local !== undefined) return local;
    }
    const turn = this.#turns.get(name) ?? 0;
    this.#turns.set(name, turn + 1);
    return candidates[turn % candidates.length]!;
  }
}
