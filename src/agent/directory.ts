/**
 * Agents cluster-wide. Each node that runs agent code answers for its own agents through a small actor, its agent
 * directory (`pulsing/agents`, class `pulsing.AgentDirectory`): it reads the node's live actors from the system
 * actor and keeps those whose class `agent()` described here. `listAgents()` asks every alive member's directory in
 * parallel, starting one there (a remote spawn) when it is not running yet; a node without agent code refuses the
 * spawn (`CLASS_NOT_REGISTERED`) and has no agents. Nothing is added to the membership protocol, and what is listed
 * is what runs now (stopped, restarted or remotely spawned agents included), not a replica that could go stale.
 */
import { ActorSystem, getSystem, getSystemActor, remote, type ActorContext, type ActorProxy } from "../index.js";
import { ErrorCode, PulsingError } from "../errors/errors.js";
import { checkOptions, duration, invalid, show, type Check, type OptionSchema } from "../util/options.js";
import { metaOfClass, type AgentMeta } from "./meta.js";

/** The name of every node's agent directory. */
export const AGENT_DIRECTORY_NAME = "pulsing/agents";

/** One running agent, as `listAgents()` reports it: its description, and where it runs. */
export interface AgentInfo extends AgentMeta {
  /** The node that runs it. */
  readonly nodeId: string;
  /** `"<nodeId>:<localId>"` */
  readonly actorId: string;
  /** The class's registered name. */
  readonly className: string;
}

/** Options of `listAgents()`. */
export interface ListAgentsOptions {
  /** The system to ask from. @default the global one */
  system?: ActorSystem;
  /** How long each node has to answer (slower ones are left out). @default 3_000 */
  timeout?: number;
}

const actorSystem: Check<ActorSystem> = (where, name, value) => {
  if (!(value instanceof ActorSystem)) throw invalid(`${where}: '${name}' must be an ActorSystem, got ${show(value)}`);
  return value;
};

/** The checks of `ListAgentsOptions`. */
export const LIST_AGENTS_OPTIONS = { system: actorSystem, timeout: duration } satisfies OptionSchema<ListAgentsOptions>;

interface AgentEntry extends AgentInfo {
  readonly name: string;
}

/** A node's agent directory (see the module comment). */
export const AgentDirectory = remote({ name: "pulsing.AgentDirectory" })(
  class AgentDirectory {
    #system: ActorSystem | undefined;

    onStart(ctx: ActorContext): void {
      this.#system = ctx.system;
    }

    /** This node's running agents. */
    async list(): Promise<AgentEntry[]> {
      const actors = await (await getSystemActor(this.#system)).listActors();
      const entries: AgentEntry[] = [];
      for (const actor of actors) {
        if (actor.name === undefined || actor.className === undefined) continue;
        const meta = metaOfClass(actor.className);
        if (meta === undefined) continue;
        entries.push({ name: actor.name, nodeId: this.#system!.nodeId, actorId: actor.actorId, className: actor.className, ...meta });
      }
      return entries;
    }
  },
);

type Directory = ActorProxy<InstanceType<typeof AgentDirectory>>;

/**
 * Every running named agent of the cluster, by actor name (a name run on several nodes: one of them). Nodes that do
 * not answer within `timeout` are left out.
 */
export async function listAgents(options: ListAgentsOptions = {}): Promise<Record<string, AgentInfo>> {
  checkOptions("listAgents()", options, LIST_AGENTS_OPTIONS);
  const system = options.system ?? getSystem();
  const timeout = options.timeout ?? 3_000;
  const nodes = system.members().filter((member) => member.status === "alive");
  const lists = await Promise.all(
    nodes.map(async (member) => {
      try {
        const directory = await directoryOn(system, member.nodeId, timeout);
        return directory === undefined ? [] : await directory.withOptions({ timeout }).list();
      } catch {
        return []; // gone, slow or shutting down: an inspection call lists what answered
      }
    }),
  );
  const agents: Record<string, AgentInfo> = {};
  for (const { name, ...info } of lists.flat().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    agents[name] ??= Object.freeze(info);
  }
  return agents;
}

/** `nodeId`'s agent directory, started there if needed; undefined when that node runs no agent code. */
async function directoryOn(system: ActorSystem, nodeId: string, timeout: number): Promise<Directory | undefined> {
  const found = await system.resolve(AGENT_DIRECTORY_NAME, { nodeId }).catch(() => undefined);
  if (found !== undefined) return found.asType(AgentDirectory);
  const remoteNode = nodeId === system.nodeId ? {} : { node: nodeId };
  try {
    const ref = await system.spawn(AgentDirectory, { name: AGENT_DIRECTORY_NAME, public: true, signal: AbortSignal.timeout(timeout), ...remoteNode });
    return ref.asType(AgentDirectory);
  } catch (error) {
    const code = error instanceof PulsingError ? (error as { code?: unknown }).code : undefined;
    if (code === ErrorCode.CLASS_NOT_REGISTERED) return undefined;
    // Started meanwhile by another lister: its name is on its way here.
    if (code === ErrorCode.NAME_TAKEN) return (await system.resolve(AGENT_DIRECTORY_NAME, { nodeId, timeout })).asType(AgentDirectory);
    throw error;
  }
}
