import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { duration, integer, oneOf, type OptionSchema } from "../util/options.js";

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

/** The checks of `SupervisionOptions`. */
export const SUPERVISION_OPTIONS = {
  restartPolicy: oneOf("never", "on_failure", "on-failure", "always"),
  maxRestarts: integer(0),
  minBackoff: duration,
  maxBackoff: duration,
} satisfies OptionSchema<SupervisionOptions>;

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

/** Supervision over `base` from options already checked against `SUPERVISION_OPTIONS`. */
export function resolveSupervision(where: string, options: SupervisionOptions, base: Supervision): Supervision {
  const supervision = {
    restartPolicy: options.restartPolicy !== undefined ? POLICIES[options.restartPolicy]! : base.restartPolicy,
    maxRestarts: options.maxRestarts ?? base.maxRestarts,
    minBackoff: options.minBackoff ?? base.minBackoff,
    maxBackoff: options.maxBackoff ?? base.maxBackoff,
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
