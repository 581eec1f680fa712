import type * as pul from "pulsing";

/** What the seed serves at `/config.json`. */
export interface DashboardConfig {
  /** WebSocket multiaddrs of the seeds to dial: the serving seed's first, then up to two other seeds'. */
  seeds: string[];
  /** The serving seed's node id. */
  nodeId?: string;
  /** Whether the cluster needs a passphrase (given in the URL as `#secret=…`). */
  protected: boolean;
}

/** A named actor the call form can target. `name: "system"` with a nodeId means that node's system actor. */
export interface ActorTarget {
  name: string;
  nodeId?: string;
  method?: string;
  args?: string;
}

/** Cross-panel events. */
export interface AppEvents {
  /** Point the call form at an actor. */
  "select-actor": ActorTarget;
  /** Scroll the actors panel to a node. */
  "focus-node": string;
  /** Something spawned or stopped here: refresh the actors panel now. */
  "actors-changed": undefined;
}

/** What every panel gets: the joined system and a small event bus. */
export class App {
  readonly system: pul.ActorSystem;
  readonly config: DashboardConfig;
  readonly selfId: string;
  /** The seeds' node ids (from `/config.json`), to mark them in the views. */
  readonly seedIds: ReadonlySet<string>;
  readonly #bus = new EventTarget();

  constructor(system: pul.ActorSystem, config: DashboardConfig) {
    this.system = system;
    this.config = config;
    this.selfId = system.nodeId;
    const seeds = new Set<string>();
    if (config.nodeId !== undefined) seeds.add(config.nodeId);
    for (const addr of config.seeds) {
      const peer = /\/p2p\/([^/]+)$/.exec(addr)?.[1];
      if (peer !== undefined) seeds.add(peer);
    }
    this.seedIds = seeds;
  }

  emit<K extends keyof AppEvents>(type: K, detail: AppEvents[K]): void {
    this.#bus.dispatchEvent(new CustomEvent(type, { detail }));
  }

  on<K extends keyof AppEvents>(type: K, listener: (detail: AppEvents[K]) => void): void {
    this.#bus.addEventListener(type, (event) => listener((event as CustomEvent<AppEvents[K]>).detail));
  }
}
