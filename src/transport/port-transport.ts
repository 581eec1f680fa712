import { serviceCapabilities, transportSymbol, TypedEventEmitter } from "@libp2p/interface";
import type {
  ComponentLogger,
  Connection,
  CreateListenerOptions,
  DialTransportOptions,
  Listener,
  ListenerEvents,
  Logger,
  Transport,
  Upgrader,
} from "@libp2p/interface";
import { AbstractMultiaddrConnection, type SendResult } from "@libp2p/utils";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { Uint8ArrayList } from "uint8arraylist";

/**
 * A libp2p transport over `MessagePort`s: how a worker thread (Node `worker_threads`, a browser Web Worker) joins
 * its parent's cluster without sockets. Bytes cross as transferred `ArrayBuffer`s; noise and yamux run on top as on
 * any connection, so admission, membership and calls above are unchanged.
 *
 * Each node has one `PortHub`. A parent's hub listens on `/memory/<hubId>` and accepts connections on the ports
 * of its workers (`attach`); a worker's hub holds the port to its parent and dials `/memory/<parent hubId>` over
 * it. The address is dialable only inside that pair (the dial filter takes only hubs this node has a port to), and
 * is kept out of what the node announces: other nodes reach a worker through its parent's circuit relay.
 *
 * Several connections may share one port (a worker that dials its parent again after a hang-up), told apart by a
 * number; a message is `[id, kind, bytes?]`.
 */

/** What both Node's `worker_threads.MessagePort` and the DOM's `MessagePort` offer. */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[] | readonly ArrayBuffer[]): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: () => void): void;
  start?(): void;
  close(): void;
}

/** Message kinds: open a connection, data, the sender closed, the sender reset. */
const OPEN = 0;
const DATA = 1;
const CLOSE = 2;
const RESET = 3;

/** The multiaddr protocol of hub addresses (`/memory/<id>`, a registered code that takes a string). */
const PROTOCOL = "memory";

/** Hub ids are random and long: an address of one process's hub is meaningless (and undialable) in another. */
function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return "pulsing-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The hub id of a `/memory/<id>…` address, if it is one. */
export function hubOf(addr: Multiaddr): string | undefined {
  const first = addr.getComponents()[0];
  return first?.name === PROTOCOL ? first.value : undefined;
}

/** Whether an address is a port (worker↔parent) address, which only that pair can dial. */
export function isPortAddr(addr: Multiaddr): boolean {
  return hubOf(addr) !== undefined;
}

/** One end of a port: the connections over it, by number. */
class PortEnd {
  readonly port: PortLike;
  /** The hub at the other end, when this end dials it (a worker's port to its parent). */
  readonly remoteHub: string | undefined;
  readonly #conns = new Map<number, PortConnection>();
  /** Odd numbers for one side's connections, even for the other's: both may open at once. */
  #next: number;
  #closed = false;
  readonly #onOpen: (end: PortEnd, id: number) => void;

  constructor(port: PortLike, dialer: boolean, remoteHub: string | undefined, onOpen: (end: PortEnd, id: number) => void) {
    this.port = port;
    this.remoteHub = remoteHub;
    this.#next = dialer ? 1 : 2;
    this.#onOpen = onOpen;
    port.addEventListener("message", (event) => this.#receive(event.data));
    // Node fires it when either side closes (a terminated worker); browsers that have it, likewise.
    port.addEventListener("close", () => this.close());
    port.start?.();
  }

  #receive(data: unknown): void {
    if (!Array.isArray(data) || typeof data[0] !== "number") return; // not ours (a user message on a shared port)
    const [id, kind, bytes] = data as [number, number, unknown];
    if (kind === OPEN) {
      if (!this.#conns.has(id)) this.#onOpen(this, id);
      return;
    }
    const conn = this.#conns.get(id);
    if (conn === undefined) return;
    if (kind === DATA && bytes instanceof ArrayBuffer) conn.onData(new Uint8Array(bytes));
    else if (kind === CLOSE) this.#conns.delete(id), conn.onTransportClosed();
    else if (kind === RESET) this.#conns.delete(id), conn.onRemoteReset();
  }

  get closed(): boolean {
    return this.#closed;
  }

  open(): number {
    const id = this.#next;
    this.#next += 2;
    this.post([id, OPEN]);
    return id;
  }

  add(id: number, conn: PortConnection): void {
    this.#conns.set(id, conn);
  }

  forget(id: number): void {
    this.#conns.delete(id);
  }

  post(message: unknown[], transfer: ArrayBuffer[] = []): void {
    if (this.#closed) return;
    try {
      this.port.postMessage(message, transfer);
    } catch {
      this.close(); // a port whose other side is gone (browsers throw nothing; kept for runtimes that do)
    }
  }

  /** The port is gone (the worker ended, or the hub stops): every connection over it ends. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const conns = [...this.#conns.values()];
    this.#conns.clear();
    for (const conn of conns) conn.abort(new Error("the worker's message port closed"));
    try {
      this.port.close();
    } catch {
      // already closed
    }
  }
}

/** A libp2p MultiaddrConnection over one numbered connection of a port. */
class PortConnection extends AbstractMultiaddrConnection {
  readonly #end: PortEnd;
  readonly #id: number;

  constructor(end: PortEnd, id: number, remoteAddr: Multiaddr, direction: "inbound" | "outbound", log: Logger) {
    super({ remoteAddr, direction, log });
    this.#end = end;
    this.#id = id;
    end.add(id, this);
    this.addEventListener("close", () => end.forget(id), { once: true });
  }

  sendData(data: Uint8ArrayList): SendResult {
    // One copy into a buffer of our own, which is then transferred (not copied again): the chunks may be views
    // into buffers libp2p still uses, which a transfer would detach.
    const bytes = new Uint8Array(data.byteLength);
    let offset = 0;
    for (const chunk of data) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    this.#end.post([this.#id, DATA, bytes.buffer], [bytes.buffer]);
    // (`bytes` is detached now: its length reads 0.) postMessage queues without limit: no backpressure at this
    // layer (yamux's windows bound what is in flight).
    return { sentBytes: offset, canSendMore: true };
  }

  async sendClose(): Promise<void> {
    this.#end.post([this.#id, CLOSE]);
  }

  sendReset(): void {
    this.#end.post([this.#id, RESET]);
  }

  sendPause(): void {}

  sendResume(): void {}
}

/** The ports of one node: to its parent (if it is a worker) and to its workers. */
export class PortHub {
  readonly id = randomId();
  readonly #ends = new Set<PortEnd>();
  /** The listener's upgrader, once libp2p listens on this hub (a parent). */
  #upgrader: Upgrader | undefined;
  #shutdown = new AbortController();
  #log: Logger | undefined;
  /** What a worker of this node needs to join its cluster (set once the node's options are known). */
  workerJoin: WorkerJoin | undefined;
  /** The end towards this node's parent, when it has one. */
  #parent: PortEnd | undefined;

  /** The address this hub listens on. */
  get listenAddr(): string {
    return `/${PROTOCOL}/${this.id}`;
  }

  /**
   * A worker's hub: `port` leads to the parent whose hub is `parentHub`. `parentAddr`, one of the parent's network
   * addresses, is what the connection reports as its remote address: circuit relay reservations and libp2p's
   * address manager take only IP or DNS addresses (a `/memory` one threw), and the worker's relayed address is
   * built on it.
   */
  toParent(port: PortLike, parentHub: string, parentAddr: string | undefined): void {
    this.#parent = new PortEnd(port, true, parentHub, (end, id) => this.#inbound(end, id));
    this.#parentAddr = parentAddr;
    this.#ends.add(this.#parent);
  }

  #parentAddr: string | undefined;

  /** A parent's hub: takes connections from a worker over `port` (the port closes when the worker ends). */
  attach(port: PortLike): { close(): void } {
    const end = new PortEnd(port, false, undefined, (e, id) => this.#inbound(e, id));
    this.#ends.add(end);
    return { close: () => (end.close(), this.#ends.delete(end)) };
  }

  canDial(addr: Multiaddr): boolean {
    const hub = hubOf(addr);
    return hub !== undefined && this.#parent !== undefined && !this.#parent.closed && this.#parent.remoteHub === hub;
  }

  dial(addr: Multiaddr, log: Logger): PortConnection {
    const end = this.#parent;
    if (end === undefined || end.closed || !this.canDial(addr)) throw new Error(`no message port leads to ${addr.toString()}`);
    return new PortConnection(end, end.open(), multiaddr(this.#parentAddr ?? `/${PROTOCOL}/${end.remoteHub}`), "outbound", log);
  }

  listen(upgrader: Upgrader, log: Logger): void {
    this.#upgrader = upgrader;
    this.#log = log;
    this.#shutdown = new AbortController();
  }

  stopListening(): void {
    this.#upgrader = undefined;
    this.#shutdown.abort();
  }

  #inbound(end: PortEnd, id: number): void {
    const upgrader = this.#upgrader;
    if (upgrader === undefined || this.#log === undefined) {
      end.post([id, RESET]); // not listening (a worker's hub, or a parent stopping)
      return;
    }
    const conn = new PortConnection(end, id, multiaddr(`/${PROTOCOL}/${this.id}`), "inbound", this.#log);
    upgrader.upgradeInbound(conn, { signal: upgrader.createInboundAbortSignal(this.#shutdown.signal) }).catch((error: unknown) => {
      conn.abort(error instanceof Error ? error : new Error(String(error)));
    });
  }

  /** Closes every port (the node stops). */
  close(): void {
    this.stopListening();
    for (const end of this.#ends) end.close();
    this.#ends.clear();
  }
}

class PortListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  readonly #hub: PortHub;
  readonly #upgrader: Upgrader;
  readonly #log: Logger;
  #listening = false;

  constructor(hub: PortHub, upgrader: Upgrader, log: Logger) {
    super();
    this.#hub = hub;
    this.#upgrader = upgrader;
    this.#log = log;
  }

  async listen(): Promise<void> {
    this.#hub.listen(this.#upgrader, this.#log);
    this.#listening = true;
    this.safeDispatchEvent("listening");
  }

  getAddrs(): Multiaddr[] {
    return this.#listening ? [multiaddr(this.#hub.listenAddr)] : [];
  }

  updateAnnounceAddrs(): void {}

  async close(): Promise<void> {
    this.#hub.close();
    this.#listening = false;
    this.safeDispatchEvent("close");
  }
}

class PortTransport implements Transport {
  readonly [transportSymbol] = true as const;
  readonly [Symbol.toStringTag] = "pulsing:message-port";
  readonly [serviceCapabilities] = ["@libp2p/transport"];
  readonly #hub: PortHub;
  readonly #log: Logger;
  readonly #logger: ComponentLogger;

  constructor(hub: PortHub, logger: ComponentLogger) {
    this.#hub = hub;
    this.#logger = logger;
    this.#log = logger.forComponent("pulsing:port-transport");
  }

  async dial(ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    options.signal.throwIfAborted();
    const conn = this.#hub.dial(ma, this.#log.newScope("connection"));
    try {
      return await options.upgrader.upgradeOutbound(conn, options);
    } catch (error) {
      conn.abort(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  }

  createListener(options: CreateListenerOptions): Listener {
    return new PortListener(this.#hub, options.upgrader, this.#logger.forComponent("pulsing:port-listener"));
  }

  listenFilter(addrs: Multiaddr[]): Multiaddr[] {
    return addrs.filter((a) => hubOf(a) === this.#hub.id);
  }

  dialFilter(addrs: Multiaddr[]): Multiaddr[] {
    return addrs.filter((a) => this.#hub.canDial(a));
  }
}

/** The libp2p transport factory of a hub. */
export function portTransport(hub: PortHub): (components: { logger: ComponentLogger }) => Transport {
  return (components) => new PortTransport(hub, components.logger);
}

/** What a worker needs to join its parent's cluster (sent with its port: structured-cloneable). */
export interface WorkerJoin {
  /** The parent's hub and node: the worker's seed is `/memory/<hub>/p2p/<node>`. */
  hub: string;
  nodeId: string;
  passphrase?: string;
  /** The parent's cluster name (membership), so that the worker joins the same cluster. */
  cluster?: string;
  /**
   * One of the parent's network addresses (no `/p2p`), when it has one: the worker then listens through the
   * parent's circuit relay, which is how other nodes reach it. Without it only the parent reaches the worker.
   */
  relayAddr?: string;
  /** The parent's seeds, when it has no relay of its own (a browser tab): the worker reserves on their relays. */
  seeds?: string[];
}

/**
 * This thread's parent (set by `initInsideWorker` before the worker's system starts): its port and hub, the address
 * to report for it, and whether the worker listens through relays. A node started in a worker thread dials its
 * parent over the port. One per thread, like the thread's parent.
 */
interface ThreadParent {
  port: PortLike;
  hub: string;
  relayAddr: string | undefined;
  relayed: boolean;
}

let threadParent: ThreadParent | undefined;

export function setThreadParent(parent: ThreadParent | undefined): void {
  threadParent = parent;
}

/** A new hub for a node starting now, holding the thread's port to the parent if there is one (taken once). */
export function newHub(): { hub: PortHub; worker: boolean; relayed: boolean } {
  const hub = new PortHub();
  const parent = threadParent;
  if (parent === undefined) return { hub, worker: false, relayed: false };
  threadParent = undefined;
  hub.toParent(parent.port, parent.hub, parent.relayAddr);
  return { hub, worker: true, relayed: parent.relayed };
}

/** The hubs of running nodes, by node id: `spawnWorkers` attaches its workers' ports to its system's hub. */
const hubs = new Map<string, PortHub>();

export function registerHub(nodeId: string, hub: PortHub): () => void {
  hubs.set(nodeId, hub);
  return () => {
    if (hubs.get(nodeId) === hub) hubs.delete(nodeId);
  };
}

export function hubOfNode(nodeId: string): PortHub | undefined {
  return hubs.get(nodeId);
}
