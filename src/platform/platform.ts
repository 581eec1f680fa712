import type { ContextStore } from "../actor/context-store.js";
import type { ProcessSupport } from "./processes.js";

/** The kinds of runtime a node can be. */
export type RuntimeKind = "node" | "browser" | "deno";

/** The libp2p pieces a runtime contributes to a node. */
export interface TransportPlan {
  /** libp2p transport factories */
  transports: unknown[];
  /** multiaddrs to listen on */
  listen: string[];
  /** how `"host:port"` seeds are dialed from this runtime */
  seedTransport: "tcp" | "ws";
  /** extra libp2p services (a seed's circuit relay server) */
  services: Record<string, unknown>;
  /** connection gater rules of this runtime (merged with the mesh's own) */
  gater: Record<string, unknown>;
  /** connection limits suited to the runtime (browsers keep few) */
  maxConnections: number;
  /** connections to other members a node keeps by default */
  targetPeers: number;
  /** whether this node dials other browser tabs directly over WebRTC */
  directWebRTC: boolean;
  /** what the runtime needs done once the node built from this plan has stopped (or failed to start) */
  release?: () => void;
}

/**
 * What differs between runtimes, chosen by package `imports` conditions (`#platform`), never by `if (isNode)`:
 * `src/node/platform.ts` for Node and Deno, `src/platform/browser.ts` elsewhere.
 */
export interface Platform {
  readonly runtime: RuntimeKind;
  createContextStore<T>(): ContextStore<T>;
  /** Transports and listen addresses for a networked node (loaded on demand: standalone systems skip it). */
  transports(options: { addr: string | undefined; seeds: readonly string[]; webrtc: boolean }): Promise<TransportPlan>;
  /**
   * Local processes (`child_process`) and the process runner of `serveProcesses`, loaded on demand. Absent where
   * there are none (browsers): a tab runs processes only on other nodes.
   */
  readonly processes?: () => Promise<ProcessSupport>;
}
