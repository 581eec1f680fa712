import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { optionalDuration, optionalInteger, show } from "../util/options.js";

/** When a failed actor is rebuilt. */
export type RestartPolicy = "never" | "on_failure" | "always";

/** Supervision settings of one actor (all durations in milliseconds). */
export interface SupervisionOptions {
  /** @default "never" */
  restartPolicy?: RestartPolicy | "on-failure";
  /** Restarts allowed before the actor stops for good. @default 3 */
  maxRestarts?: number;
  /** Backoff before the first restart; doubles per restart. @default 100 */
  minBackoff?: number;
  /** Upper bound of the backoff. @default 30_000 */
  maxBackoff?: number;
}

export interface Supervision {
  readonly restartPolicy: RestartPolicy;
  readonly maxRestarts: number;
  readonly minBackoff: number;
  readonly maxBackoff: number;
}

export const DEFAULT_SUPERVISION: Supervision = {
  restartPolicy: "never",
  maxRestarts: 3,
  minBackoff: 100,
  maxBackoff: 30_000,
};

const POLICIES: Record<string, RestartPolicy> = {
  never: "never",
  on_failure: "on_failure",
  "on-failure": "on_failure",
  always: "always",
};

/** Validates supervision options over `base`, with errors that name the bad value and what is allowed. */
export function resolveSupervision(where: string, options: SupervisionOptions, base: Supervision): Supervision {
  let restartPolicy = base.restartPolicy;
  if (options.restartPolicy !== undefined) {
    const policy = typeof options.restartPolicy === "string" ? POLICIES[options.restartPolicy] : undefined;
    if (policy === undefined || !Object.hasOwn(POLICIES, options.restartPolicy)) {
      throw new PulsingRuntimeError(
        ErrorCode.INVALID_OPTION,
        `${where}: invalid restartPolicy ${show(options.restartPolicy)} (expected "never", "on_failure" or "always")`,
      );
    }
    restartPolicy = policy;
  }
  const supervision = {
    restartPolicy,
    maxRestarts: optionalInteger(where, "maxRestarts", options.maxRestarts, 0) ?? base.maxRestarts,
    minBackoff: optionalDuration(where, "minBackoff", options.minBackoff) ?? base.minBackoff,
    maxBackoff: optionalDuration(where, "maxBackoff", options.maxBackoff) ?? base.maxBackoff,
  };
  if (supervision.minBackoff > supervision.maxBackoff) {
    throw new PulsingRuntimeError(
      ErrorCode.INVALID_OPTION,
      `${where}: minBackoff (${supervision.minBackoff}) must not exceed maxBackoff (${supervision.maxBackoff})`,
    );
  }
  return supervision;
}

/** Exponential backoff before restart number `attempt` (0-based). */
export function backoffDelay(supervision: Supervision, attempt: number): number {
  return Math.min(supervision.maxBackoff, supervision.minBackoff * 2 ** Math.min(attempt, 30));
}
