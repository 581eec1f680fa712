import { isAddrHint } from "../wire/addr-hint.js";
import { defineExtension, EXT } from "../wire/codec.js";
import { ActorId } from "./actor-id.js";
import { ActorRef } from "./actor-ref.js";
import { ActorProxyMarker, proxyRef } from "./proxy.js";

/**
 * Actor refs and proxies travel as their address: `[nodeId, localId, name | null, isProxy, addrHint?]`. The
 * receiving system rebuilds a ref bound to itself (a proxy arrives as an untyped proxy, so the receiver can call it
 * directly); decoded with no system at hand they arrive as plain `ActorId`s.
 *
 * `addrHint` (appended; older readers ignore it) is a few multiaddr strings of the actor's node — its own addresses
 * when it sends a ref to its own actor, what the sender knows of that node otherwise — so a receiver that has not
 * heard of the node yet can dial it. A hint of the wrong shape is ignored; the receiver checks the addresses
 * themselves before using them (see `../wire/addr-hint.ts`).
 */
export interface RefDecodeContext {
  refFor(id: ActorId, name: string | undefined): ActorRef;
  /** A ref to an actor of `nodeId` arrived with these addresses (shape-checked, otherwise untrusted). */
  hint?(nodeId: string, addrs: string[]): void;
}

function isRefContext(context: unknown): context is RefDecodeContext {
  return typeof (context as Partial<RefDecodeContext> | undefined)?.refFor === "function";
}

function encodeRef(ref: ActorRef, isProxy: boolean): unknown[] {
  const hint = ref.addrHint();
  return hint === undefined
    ? [ref.actorId.nodeId, ref.actorId.localId, ref.name ?? null, isProxy]
    : [ref.actorId.nodeId, ref.actorId.localId, ref.name ?? null, isProxy, hint];
}

function decodeRef(data: unknown, context: unknown): unknown {
  if (
    !Array.isArray(data) ||
    typeof data[0] !== "string" ||
    !Number.isSafeInteger(data[1]) ||
    (data[2] !== null && typeof data[2] !== "string")
  ) {
    throw new Error("malformed actor ref");
  }
  const id = new ActorId(data[0], data[1] as number);
  if (!isRefContext(context)) return id;
  if (data.length > 4 && context.hint !== undefined && isAddrHint(data[4])) context.hint(data[0], data[4]);
  const ref = context.refFor(id, (data[2] as string | null) ?? undefined);
  return data[3] === true ? ref.asAny() : ref;
}

defineExtension({
  type: EXT.actorRef,
  Class: ActorRef,
  encode: (ref: ActorRef) => encodeRef(ref, false),
  decode: decodeRef,
});

defineExtension({
  type: EXT.actorProxy,
  Class: ActorProxyMarker,
  encode: (proxy: ActorProxyMarker) => {
    const ref = proxyRef(proxy);
    if (ref === undefined) throw new Error("not an actor proxy");
    return encodeRef(ref, true);
  },
  decode: decodeRef,
});

defineExtension({
  type: EXT.actorId,
  Class: ActorId,
  encode: (id: ActorId) => [id.nodeId, id.localId],
  decode: (data) => {
    if (!Array.isArray(data) || typeof data[0] !== "string" || !Number.isSafeInteger(data[1])) throw new Error("malformed ActorId");
    return new ActorId(data[0], data[1] as number);
  },
});
