import type { Connection, Libp2p } from "@libp2p/interface";
import type { ActorId } from "../actor/actor-id.js";
import type { ActorRef } from "../actor/actor-ref.js";
import type { InboundCall } from "../actor/call-types.js";
import type { RefDecodeContext } from "../actor/ref-codec.js";
import type { EncodeOptions } from "../wire/codec.js";

/** What the mesh's links and sessions need from the node and its actor system. */
export interface MeshContext {
  readonly node: Libp2p;
  readonly nodeId: string;
  readonly maxFrameSize: number;
  /** How values this node sends are encoded (whether errors carry their stacks). */
  readonly encoding: EncodeOptions;
  /** A frame arrived from `peer`: a sign of life, for failure detection (called per frame: cheap). */
  heard(peer: string): void;
  /** Rebuilds actor refs found in decoded values, bound to the local system. */
  readonly refs: RefDecodeContext;
  /**
   * Resolves once `peer` can be dialed (connected, or an address known); for a node not known yet, waits for news of
   * it and asks connected peers, until `until()` (a `performance.now()` time); then rejects with `NODE_UNKNOWN`.
   */
  locate(peer: string, until: () => number): Promise<void>;
  /** An admitted connection to `peer`: a direct one if possible (WebRTC for tabs), else a relayed one. */
  dial(peer: string, signal: AbortSignal): Promise<Connection>;
  /** Hands an inbound call to the local actor `localId` (answers it with an error when there is none). */
  deliver(localId: number, call: InboundCall): void;
  /** Resolves once the connection is admitted (cluster secret); rejects with the reason otherwise. */
  admitted(connection: Connection): Promise<void>;
  /** Something failed with nobody to tell. */
  report(message: string, error?: unknown): void;
  /** Counts of frames this node could not use (for metrics and tests). */
  readonly counters: { malformedFrames: number; oversizedFrames: number };
}

export type { ActorId, ActorRef };
