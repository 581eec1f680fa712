import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import type { ActorContext } from "./context.js";

/**
 * The functional actor form of Pulsing's Rust Behavior API: a state and a handler `(state, msg, ctx) => …`.
 * The handler returns a `BehaviorAction` (`same`, `next`, `stop`) or, for short, the reply itself (state kept,
 * e.g. after mutating it in place). Messages are handled one at a time, so state transitions never interleave.
 *
 * ```ts
 * const counter = pul.stateful(0, (n, by: number) => pul.BehaviorAction.next(n + by, n + by));
 * const ref = await system.spawn(counter, { name: "counter" });
 * await ref.ask(5); // 5
 * ```
 */
export class BehaviorAction<S, R> {
  private constructor(
    readonly kind: "same" | "next" | "stop",
    readonly state: S | undefined,
    readonly reply: R | undefined,
  ) {}

  /** Keep the state; answer `reply`. */
  static same<R = undefined>(reply?: R): BehaviorAction<never, R> {
    return new BehaviorAction<never, R>("same", undefined, reply);
  }

  /** Replace the state with `state`; answer `reply`. */
  static next<S, R = undefined>(state: S, reply?: R): BehaviorAction<S, R> {
    return new BehaviorAction<S, R>("next", state, reply);
  }

  /** Answer `reply`, then stop the actor. */
  static stop<R = undefined>(reply?: R): BehaviorAction<never, R> {
    return new BehaviorAction<never, R>("stop", undefined, reply);
  }
}

/** Returns a `BehaviorAction` for `S`, or the reply itself (possibly through a promise). */
export type BehaviorHandler<S, M> = (state: S, msg: M, ctx: ActorContext) => BehaviorAction<S, unknown> | unknown;

const BEHAVIOR = Symbol.for("pulsing.behavior");

/** A spawnable behavior: `system.spawn(behavior, options)`. */
export interface Behavior<M = unknown, R = unknown> {
  readonly [BEHAVIOR]: true;
  /** @internal a fresh actor instance (used again on restart) */
  create(): object;
  /** phantom: the message and reply types */
  readonly __types?: { msg: M; reply: R };
}

export function isBehavior(value: unknown): value is Behavior {
  return typeof value === "object" && value !== null && (value as Partial<Behavior>)[BEHAVIOR] === true;
}

/**
 * A behavior with state. `init` may be a function building the initial state; otherwise object state is
 * cloned for each (re)start so a restart begins from the initial state.
 */
export function stateful<S, M = any, R = any>(init: S | (() => S), handler: BehaviorHandler<S, M>): Behavior<M, R> {
  if (typeof handler !== "function")
    throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "stateful(): the handler must be a function");
  const initial = (): S => {
    if (typeof init === "function") return (init as () => S)();
    if (typeof init === "object" && init !== null) {
      try {
        return structuredClone(init);
      } catch {
        return init;
      }
    }
    return init;
  };
  return {
    [BEHAVIOR]: true,
    create: () => {
      let state = initial();
      return {
        async receive(msg: M, ctx: ActorContext): Promise<unknown> {
          const result = await handler(state, msg, ctx);
          if (!(result instanceof BehaviorAction)) return result;
          if (result.kind === "next") state = result.state as S;
          else if (result.kind === "stop") ctx.stop();
          return result.reply;
        },
      };
    },
  };
}
