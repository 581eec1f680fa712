import { SUPERVISION_OPTIONS, type SupervisionOptions } from "../actor/supervision.js";
import { SPAWN_REQUEST_OPTIONS } from "../cluster/cluster-protocol.js";
import { MEMBERSHIP_OPTIONS, type MembershipOptions } from "../cluster/membership.js";
import { resolvePolicyOption, type ResolvePolicy } from "../cluster/resolve-policy.js";
import { RESOURCES_OPTIONS, type ProcessResources } from "../platform/processes.js";
import {
  array,
  boolean,
  bytes,
  checkOptions,
  duration,
  integer,
  invalid,
  nested,
  show,
  signal as signalOption,
  string,
  stringArray,
  type Check,
  type OptionSchema,
} from "../util/options.js";

/** Options of `init()` and `actorSystem()`. */
export interface ActorSystemOptions {
  /** Listen address (`"host:port"` or a multiaddr). Absent: the node only dials (browsers) or, without seeds, is standalone. */
  addr?: string;
  /** Nodes to join through (`"host:port"` or multiaddrs, with or without `/p2p/<peerId>`). */
  seeds?: string[];
  /** The cluster secret: only nodes that know it can connect and be served. */
  passphrase?: string;
  /** Run as the head node of a head-node cluster. */
  isHeadNode?: boolean;
  /** Join the head-node cluster whose head listens here. */
  headAddr?: string;
  /** Largest frame (bytes) this node sends or accepts; larger calls fail with a `PulsingRuntimeError`. @default 8 MiB */
  maxFrameSize?: number;
  /** This node's libp2p private key (protobuf bytes), for a stable `nodeId` across restarts. @default a fresh key */
  privateKey?: Uint8Array;
  /** Cluster name and failure-detection timings (ms). */
  membership?: MembershipOptions;
  /** Which instance `resolve(name)` picks when several nodes host the name. @default "round-robin" */
  resolvePolicy?: ResolvePolicy;
  /**
   * Browser tabs: connect to other tabs directly over WebRTC (signalled through a seed's relay). `false` keeps
   * tab↔tab traffic on the relayed connection, for networks that block WebRTC; options tune it. @default true
   */
  webrtc?: boolean | WebRTCOptions;
  /** Aborting it stops a start still under way (dialing seeds, pulling the member table): `init()` rejects with its reason. */
  signal?: AbortSignal;
  /**
   * Errors sent to callers on other nodes carry their stack traces. A development option: a stack shows the
   * node's file paths and code to whoever called it. @default false
   */
  errorStacks?: boolean;
  /**
   * Run processes for other nodes (`subprocess.run(…, { node })` from any member, tabs included): starts this node's
   * process runner, `pulsing/processes`. Whoever is admitted to the cluster can then run any command here as this
   * node's user. Node and Deno only. @default false
   */
  serveProcesses?: boolean;
  /** What this node offers to processes of others (with `serveProcesses`): CPUs and memory default to the machine's. */
  resources?: ProcessResources;
}

/** How a browser tab reaches other tabs over WebRTC. */
export interface WebRTCOptions {
  /**
   * How long a call to another tab waits for a direct connection before it goes over the relayed one (it moves to
   * the direct one once that is up). `0` sends first calls over the relay at once. @default 1000
   */
  directWaitMs?: number;
}

/** Options of `resolve()`. */
export interface ResolveOptions {
  /** Wait up to this many ms for the name to appear; without it the lookup happens once. */
  timeout?: number;
  /** Only an instance on this node. */
  nodeId?: string;
  /** Overrides the system's `resolvePolicy` for this lookup. */
  policy?: ResolvePolicy;
  /** Aborting it stops the wait: `resolve()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `spawn()`. `args` are the constructor's arguments (classes only). */
export interface SpawnOptions<A extends readonly unknown[] = readonly unknown[]> extends SupervisionOptions {
  /** Registers the actor under this name (hierarchical names like `services/llm/router` are fine). */
  name?: string;
  /** Whether a named actor is discoverable cluster-wide. @default true */
  public?: boolean;
  /** Constructor arguments. */
  args?: A;
  /** Spawn on this node (a nodeId) instead of here; the class must be registered there too. */
  node?: string;
  /** How many async calls may be in flight at once (1 = strictly serial). @default Infinity */
  concurrency?: number;
  /** Aborting it before the actor has started stops it: `spawn()` rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `mount()`. */
export interface MountOptions {
  /** The name it is reachable under (required). */
  name: string;
  /** Whether it is discoverable cluster-wide. @default true */
  public?: boolean;
}

const webrtcOption: Check<boolean | WebRTCOptions> = (where, name, value) => {
  if (typeof value === "boolean") return value;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return checkOptions(`${where}: ${name}`, value, { directWaitMs: duration } satisfies OptionSchema<WebRTCOptions>);
  }
  throw invalid(`${where}: '${name}' must be a boolean or an options object, got ${show(value)}`);
};

/** The checks of `ActorSystemOptions` (`init()`, `actorSystem()`). */
export const SYSTEM_OPTIONS = {
  addr: string,
  seeds: stringArray,
  passphrase: string,
  isHeadNode: boolean,
  headAddr: string,
  maxFrameSize: integer(1024),
  privateKey: bytes,
  membership: nested(MEMBERSHIP_OPTIONS),
  resolvePolicy: resolvePolicyOption,
  webrtc: webrtcOption,
  signal: signalOption,
  errorStacks: boolean,
  serveProcesses: boolean,
  resources: nested(RESOURCES_OPTIONS),
} satisfies OptionSchema<ActorSystemOptions>;

/** The checks of `SpawnOptions`. */
export const SPAWN_OPTIONS = {
  name: string,
  public: boolean,
  args: array,
  node: string,
  concurrency: integer(1, true),
  ...SUPERVISION_OPTIONS,
  signal: signalOption,
} satisfies OptionSchema<SpawnOptions>;

// A remote spawn forwards every spawn option but `node` and `signal`; the cluster protocol checks exactly those.
SPAWN_REQUEST_OPTIONS satisfies OptionSchema<Omit<SpawnOptions, "node" | "signal">>;

/** The checks of `ResolveOptions`. */
export const RESOLVE_OPTIONS = {
  timeout: duration,
  nodeId: string,
  policy: resolvePolicyOption,
  signal: signalOption,
} satisfies OptionSchema<ResolveOptions>;

/** The checks of `MountOptions`. */
export const MOUNT_OPTIONS = { name: string, public: boolean } satisfies OptionSchema<MountOptions>;

export function checkSystemOptions(options: ActorSystemOptions): void {
  checkOptions("actorSystem()", options, SYSTEM_OPTIONS);
  if (options.isHeadNode && options.headAddr !== undefined) {
    throw invalid("actorSystem(): 'isHeadNode' and 'headAddr' are mutually exclusive");
  }
  if (options.resources !== undefined && options.serveProcesses !== true) {
    throw invalid("actorSystem(): 'resources' says what this node offers to processes of others: it needs 'serveProcesses: true'");
  }
}
