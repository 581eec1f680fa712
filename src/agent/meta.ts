/**
 * `agent()`: `remote()` plus a description of the agent (role, goal, backstory, free-form tags), for people and
 * dashboards looking at a multi-agent system. The description belongs to the class; a spawned agent is known by
 * its actor name.
 */
import { remote, type RemoteClass, type RemoteOptions } from "../index.js";
import type { ActorClass } from "../actor/proxy-types.js";
import { remoteInfo } from "../actor/class-registry.js";
import { ErrorCode, PulsingRuntimeError } from "../errors/errors.js";
import { invalid, show } from "../util/options.js";

/** What `agent()` says about an agent class. */
export interface AgentMeta {
  readonly role: string;
  readonly goal: string;
  readonly backstory: string;
  /** Every other key given to `agent()` (JSON values). */
  readonly tags: Readonly<Record<string, unknown>>;
}

/** The argument of `agent()`: `role`, `goal`, `backstory`, and any other key as a tag. */
export interface AgentOptions {
  role?: string;
  goal?: string;
  backstory?: string;
  [tag: string]: unknown;
}

type AgentDecorator = <C extends ActorClass>(cls: C, context?: ClassDecoratorContext<C>) => RemoteClass<C>;

/** Registered class name → its description: what this node's agent directory reports for its actors. */
const byClassName = new Map<string, AgentMeta>();
/** Actor name → description, for the agents spawned from this process (`getAgentMeta`). */
const byName = new Map<string, AgentMeta>();

/**
 * Makes a class an agent: an actor class as with `remote()` (whose options are the second argument: `name`,
 * `restartPolicy`, `concurrency`…), described by `role`, `goal`, `backstory` and tags. Its `spawn` static records
 * the description under the actor's name (`getAgentMeta(name)`), and `listAgents()` finds it on every node.
 *
 * ```ts
 * const Researcher = agent({ role: "Researcher", goal: "Deep analysis", team: "a" })(class Researcher { … });
 * // or: @agent({ role: "Researcher" }) class Researcher { … }
 * ```
 */
export function agent(options: AgentOptions, remoteOptions?: RemoteOptions): AgentDecorator {
  const meta = checkMeta(options);
  const decorate = remoteOptions === undefined ? undefined : remote(remoteOptions);
  return <C extends ActorClass>(cls: C, context?: ClassDecoratorContext<C>): RemoteClass<C> => {
    if (typeof cls !== "function") throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `agent(): expected a class, got ${show(cls)}`);
    const ownSpawn = Object.hasOwn(cls, "spawn"); // a class's own static spawn is left alone, as remote() does
    const actorClass = decorate !== undefined ? decorate(cls, context) : remote(cls, context);
    const className = remoteInfo(cls)?.name;
    // A class without a name (minified, anonymous) still works as an agent; only listAgents() cannot tell it is one.
    if (className !== undefined) byClassName.set(className, meta);
    if (!ownSpawn) {
      const spawn = actorClass.spawn;
      Object.defineProperty(cls, "spawn", {
        value: async function spawnAgent(...args: Parameters<typeof spawn>) {
          const proxy = await spawn.apply(actorClass, args);
          const name = (args[0] as { name?: unknown } | undefined)?.name;
          if (typeof name === "string") byName.set(name, meta);
          return proxy;
        },
        writable: true,
        configurable: true,
        enumerable: false,
      });
    }
    return actorClass;
  };
}

/** The description of the agent spawned from this process under `name` (by `Cls.spawn`), if any. */
export function getAgentMeta(name: string): AgentMeta | undefined {
  return byName.get(name);
}

/**
 * Forgets the agents spawned from this process (`getAgentMeta`). Agents still running stay visible to
 * `listAgents()`, which asks the nodes that run them.
 */
export function clearAgentRegistry(): void {
  byName.clear();
}

/** @internal The description of the agent class registered under `className` on this node. */
export function metaOfClass(className: string): AgentMeta | undefined {
  return byClassName.get(className);
}

function checkMeta(options: AgentOptions): AgentMeta {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw invalid(`agent(): expected { role, goal, backstory, ...tags }, got ${show(options)}`);
  }
  const { role = "", goal = "", backstory = "", ...tags } = options;
  for (const [key, value] of [["role", role], ["goal", goal], ["backstory", backstory]] as const) {
    if (typeof value !== "string") throw invalid(`agent(): '${key}' must be a string, got ${show(value)}`);
  }
  for (const [key, value] of Object.entries(tags)) {
    // Tags travel to other nodes and dashboards: plain data only.
    if (!isJson(value, 0)) throw invalid(`agent(): tag '${key}' must be a JSON value (string, number, boolean, null, array, plain object), got ${show(value)}`);
  }
  return Object.freeze({ role: role as string, goal: goal as string, backstory: backstory as string, tags: Object.freeze({ ...tags }) });
}

function isJson(value: unknown, depth: number): boolean {
  if (depth > 32) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (Array.isArray(value)) return value.every((v) => isJson(v, depth + 1));
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value);
    return (proto === Object.prototype || proto === null) && Object.values(value).every((v) => isJson(v, depth + 1));
  }
  return false;
}
