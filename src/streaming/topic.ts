import type { ActorRef } from "../actor/actor-ref.js";
import { registerClass } from "../actor/class-registry.js";
import { DEFAULT_SUPERVISION } from "../actor/supervision.js";
import { ErrorCode, PulsingError, PulsingRuntimeError } from "../errors/errors.js";
import { realClock, type Clock, type TimerHandle } from "../util/clock.js";
import { concatBytes } from "../util/bytes.js";
import { Deque } from "../util/deque.js";
import { RecentSet } from "../util/recent-set.js";
import { checkOptions, integer, oneOf, type OptionSchema } from "../util/options.js";
import { decode, encode } from "../wire/codec.js";
import { queueHost, type QueueHost, type TopicGossip } from "./queue-host.js";

/**
 * Topics (Pulsing's `TopicWriter` / `TopicReader`): every subscriber node runs one `TopicSubscriber` actor per topic,
 * public under `pulsing/topic/<name>`, which hands each message to the readers of that topic on its node, and
 * subscribes the node to the topic's gossipsub topic (`topicGossipName`). A writer finds the subscribers in the
 * cluster's registry (every node with that name). `wait_all_acks` and `wait_any_ack` call each subscriber directly,
 * in parallel, each with its own timeout, and count the acknowledgements. `fire_and_forget` and `best_effort` are
 * published once on gossipsub, paced (`GOSSIP_RATE`), and sent directly only to the subscribers gossipsub did not
 * send them to (this node's own, tabs on relayed connections, nodes not connected to this one); a message carries
 * one id either way, so a subscriber that gets it twice hands it to its readers once.
 */
export const topicActorName = (topic: string): string => `pulsing/topic/${topic}`;
/** The topic's gossipsub topic, under the cluster's namespace: `/pulsing/<cluster>/topic/<name>/1`. */
export const topicGossipName = (topic: string): string => `topic/${topic}/1`;

export type PublishMode = "fire_and_forget" | "best_effort" | "wait_all_acks" | "wait_any_ack";

export interface PublishOptions {
  /** @default "best_effort" */
  mode?: PublishMode;
  /** Per subscriber, ms. @default 5_000 */
  timeout?: number;
}

/**
 * What a publish did: subscribers are counted by node (one subscription actor per node and topic), as this node's
 * registry lists them (without those skipped for failing, see `MAX_FAILURES`).
 *
 * - `fire_and_forget`: `{ success: true, delivered: 0, failed: 0, subscriberCount }` once the message is on its way
 *   (gossip, and direct sends nobody waits for): nothing is learnt about delivery.
 * - `best_effort`: `success` is always true; `delivered` counts the subscribers gossipsub sent the message to (sent,
 *   not acknowledged) plus those that acknowledged a direct send; `failed` / `failedSubscribers` the direct sends
 *   that failed or timed out.
 * - `wait_all_acks`: `success` when every subscriber acknowledged; `wait_any_ack`: when one did (it returns then,
 *   with `delivered: 1`).
 */
export interface PublishResult {
  success: boolean;
  delivered: number;
  failed: number;
  subscriberCount: number;
  failedSubscribers?: string[];
}

export interface TopicReaderStats {
  topic: string;
  received: number;
  started: boolean;
}

const PUBLISH_OPTIONS = {
  mode: oneOf("fire_and_forget", "best_effort", "wait_all_acks", "wait_any_ack"),
  timeout: integer(1),
} satisfies OptionSchema<PublishOptions>;

/** A subscriber that failed this many publishes in a row is skipped for `DROP_MS`. */
const MAX_FAILURES = 3;
const DROP_MS = 30_000;
/** Message ids a subscriber remembers (a retried delivery, or one that came by gossip and directly, is handed to readers once). */
const SEEN_IDS = 4_096;
/**
 * The largest encoded message `fire_and_forget` and `best_effort` take (bytes). A gossipsub peer refuses an RPC over
 * 4 MiB (it-length-prefixed's default) and drops the stream it came on, membership's too; a message may share an RPC
 * with control traffic, and every subscriber relays it to its mesh peers, so the limit stays well under that.
 */
export const GOSSIP_MAX_BYTES = 1024 * 1024;
/**
 * Pace of this node's topic gossip, in gossipsub messages a second (each a batch of topic messages, see
 * `gossipBatch`), and the burst it may send at once. NOTES.md measured
 * gossipsub 17 on this kind of machine (3 nodes, 2 cores): flat out (~4 k msg/s) it lost messages and meshes flapped
 * above 3 k msg/s, while at ≤ 2–3 k msg/s delivery was 100 %. A node publishes at a third of the lossy rate, which
 * leaves room for a second publishing node and for membership gossip on the same mesh.
 */
export const GOSSIP_RATE = 1_000;
export const GOSSIP_BURST = 100;
/**
 * A message costs one token per started 16 KiB: the measurements were of 100-byte messages, and big ones must not
 * flood the streams at the same message rate (an estimate, not measured).
 */
const GOSSIP_TOKEN_BYTES = 16 * 1024;
/** A writer's `fire_and_forget` messages queued for gossip beyond this many bytes make its next publish wait. */
const BACKLOG_BYTES = 4 * 1024 * 1024;

type Handler = (message: unknown) => unknown;

/** One node's subscription to a topic: hands each message to the node's readers of it, once. */
export class TopicSubscriber {
  readonly handlers = new Set<Handler>();
  readonly #seen = new RecentSet<string>(SEEN_IDS);
  /** Messages handed to this node's readers (a counter: rates come from two samples). */
  received = 0;

  /** A message; resolves (the acknowledgement) once every reader here has handled it. */
  async deliver(message: unknown, id: string): Promise<boolean> {
    if (typeof id !== "string") throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "topic deliver: expected a message id");
    await this.receive(message, id);
    return true;
  }

  /**
   * Hands a message to every reader here, unless it came before (by gossip, directly, or both). Undefined when every
   * handler was done at once, else a promise of the async ones; a handler that fails does not keep the message from
   * the others, and the first failure is the outcome.
   */
  receive(message: unknown, id: string): Promise<void> | undefined {
    if (!this.#seen.add(id)) return undefined;
    this.received++;
    let pending: Array<PromiseLike<unknown>> | undefined;
    let failure: { error: unknown } | undefined;
    for (const handler of this.handlers) {
      try {
        const result = handler(message);
        if (typeof (result as PromiseLike<unknown> | undefined)?.then === "function") (pending ??= []).push(result as PromiseLike<unknown>);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (pending === undefined) {
      if (failure !== undefined) throw failure.error;
      return undefined;
    }
    return Promise.all(pending).then(() => {
      if (failure !== undefined) throw failure.error;
    });
  }
}

registerClass(TopicSubscriber, "pulsing.TopicSubscriber", { ...DEFAULT_SUPERVISION });

// --- gossip -------------------------------------------------------------------------------------------------

/** Message ids are the writer's random id and a sequence number: anything much longer is not one. */
const MAX_ID_LENGTH = 128;
/** MessagePack: a map of one entry, the key "b", an array of two (see `gossipBatch`). */
const MAP1 = 0x81;
const KEY_B = [0xa1, 0x62];
const PAIR = 0x92;

/** A MessagePack array header for `length` items. */
function arrayHeader(length: number): number[] {
  if (length < 16) return [0x90 | length];
  if (length < 0x10000) return [0xdc, length >> 8, length & 0xff];
  return [0xdd, (length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff];
}

/** A message waiting for the writer's next gossip publish: its id and its encoded body. */
interface Gossiped {
  id: Uint8Array;
  body: Uint8Array;
  done(sentTo: Set<string>): void;
}

/**
 * Topic messages on gossip: the wire codec's MessagePack map `{ b: [[id, message], …] }`, the messages a writer
 * published while its previous gossip publish waited for the pace (one when it did not wait). Each message is
 * encoded on its own at publish, so an unencodable one is reported at its own path (`message.user.onChange`), as a
 * direct send reports it, and the batch is put together from the encoded parts.
 */
function gossipBatch(entries: readonly Gossiped[]): Uint8Array {
  const parts: ArrayLike<number>[] = [[MAP1], KEY_B, arrayHeader(entries.length)];
  for (const entry of entries) parts.push([PAIR], entry.id, entry.body);
  return concatBytes(parts);
}

/** A decoded gossip batch's messages, or undefined when it is not one. */
function gossipMessages(value: unknown): Array<{ id: string; message: unknown }> | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const batch = (value as { b?: unknown }).b;
  if (!Array.isArray(batch) || batch.length === 0) return undefined;
  const messages: Array<{ id: string; message: unknown }> = [];
  for (const entry of batch) {
    if (!Array.isArray(entry) || entry.length !== 2) return undefined;
    const [id, message] = entry as [unknown, unknown];
    if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) return undefined;
    messages.push({ id, message });
  }
  return messages;
}

/**
 * Subscribes `subscriber` to the topic's gossip; resolves to the unsubscribe (undefined: not subscribed). Messages
 * are checked before gossipsub accepts (and relays) them: one that is not a topic message is rejected there and
 * never reaches the readers.
 */
async function subscribeGossip(host: QueueHost, topic: string, subscriber: TopicSubscriber): Promise<(() => void) | undefined> {
  // Tabs are light members, on no gossip topic (no relaying for others on a tab's links): writers send to them
  // directly, as to any subscriber gossipsub did not reach.
  if (!host.clustered || host.runtime === "browser") return undefined;
  const gossip = host.gossip;
  // The validator's parse is kept for the delivery of the same message (gossipsub hands both the same bytes).
  const parsed = new WeakMap<Uint8Array, Array<{ id: string; message: unknown }>>();
  const accepts = (data: Uint8Array): boolean => {
    const messages = gossipMessages(decode(data, gossip.refs));
    if (messages === undefined) return false;
    parsed.set(data, messages);
    return true;
  };
  const failed = (error: unknown): void => host.report(`topic '${topic}': a reader failed on a message`, error);
  const onMessage = (data: Uint8Array): void => {
    let messages = parsed.get(data);
    if (messages === undefined) {
      try {
        messages = gossipMessages(decode(data, gossip.refs)) ?? [];
      } catch {
        return; // accepted already: nothing here should throw, and a bad message must not reach the node
      }
    }
    parsed.delete(data);
    for (const { id, message } of messages) {
      try {
        subscriber.receive(message, id)?.catch(failed);
      } catch (error) {
        failed(error);
      }
    }
  };
  try {
    return await gossip.subscribe(topicGossipName(topic), accepts, onMessage);
  } catch (error) {
    // Not fatal: a writer sends directly to every subscriber it did not gossip to, this node included.
    host.report(`topic '${topic}': subscribing to its gossip failed`, error);
    return undefined;
  }
}

/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. `take(cost)` resolves once `cost` tokens (at
 * most `burst`) are spent, strictly in call order. Time comes from `clock` (a simulated one in tests).
 */
export class Pacer {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #at: number;
  readonly #waiting = new Deque<{ cost: number; resolve: () => void }>();
  #timer: TimerHandle | undefined;

  constructor(rate: number, burst: number, clock: Clock = realClock) {
    this.#rate = rate;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#at = clock.now();
  }

  take(cost = 1): Promise<void> {
    cost = Math.min(Math.max(cost, 1), this.#burst);
    if (this.#waiting.length === 0) {
      this.#refill();
      if (this.#tokens >= cost) {
        this.#tokens -= cost;
        return Promise.resolve();
      }
    }
    return new Promise((resolve) => {
      this.#waiting.push({ cost, resolve });
      this.#schedule();
    });
  }

  /** Callers waiting for tokens. */
  get waiting(): number {
    return this.#waiting.length;
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) * this.#rate) / 1_000);
    this.#at = now;
  }

  #schedule(): void {
    const first = this.#waiting.peek();
    if (this.#timer !== undefined || first === undefined) return;
    // Released in ticks of at least 10 ms (ten messages at the default rate), not a timer per message.
    const wait = Math.max(10, Math.ceil(((first.cost - this.#tokens) * 1_000) / this.#rate));
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      for (let next = this.#waiting.peek(); next !== undefined && this.#tokens >= next.cost; next = this.#waiting.peek()) {
        this.#waiting.shift();
        this.#tokens -= next.cost;
        next.resolve();
      }
      this.#schedule();
    }, wait);
  }
}

/** Each node's gossip pace, shared by its writers (the limit is the node's, see `GOSSIP_RATE`). */
const pacers = new WeakMap<QueueHost, Pacer>();

function pacerOf(host: QueueHost): Pacer {
  let pacer = pacers.get(host);
  if (pacer === undefined) pacers.set(host, (pacer = new Pacer(GOSSIP_RATE, GOSSIP_BURST)));
  return pacer;
}

/** @internal The gossip pace of the system `nodeId` of this realm (for tests). */
export function gossipPacer(nodeId: string): Pacer | undefined {
  const host = queueHost(nodeId);
  return host === undefined ? undefined : pacerOf(host);
}

// --- readers ------------------------------------------------------------------------------------------------

/** Subscription actors of this realm, by node and topic (the readers of one node share one). */
const subscriptions = new Map<string, Subscription>();

/** One node's subscription to a topic, shared by its started readers (it goes when the last one stops). */
interface Subscription {
  subscriber: TopicSubscriber;
  ref: Promise<ActorRef>;
  /** The node's gossip subscription to the topic: its unsubscribe, once subscribed. */
  gossip: Promise<(() => void) | undefined>;
  readers: number;
}

/** Reads a topic's messages on this node (`topic.read()`). */
export class TopicReader {
  readonly topic: string;
  readonly #host: QueueHost;
  readonly #handlers: Handler[] = [];
  readonly #wrapped = new Map<Handler, Handler>();
  #received = 0;
  #started = false;

  /** @internal */
  constructor(host: QueueHost, topic: string) {
    this.#host = host;
    this.topic = topic;
  }

  /** Adds a handler (sync or async); an async one is awaited before the message counts as acknowledged. */
  onMessage(handler: (message: unknown) => unknown): void {
    if (typeof handler !== "function") throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "onMessage(): expected a function");
    const wrapped: Handler = (message) => {
      this.#received++;
      return handler(message);
    };
    this.#handlers.push(handler);
    this.#wrapped.set(handler, wrapped);
    if (this.#started) this.#subscription()?.subscriber.handlers.add(wrapped);
  }

  /** Subscribes: messages published from now on reach the handlers. */
  async start(): Promise<void> {
    if (this.#started) return;
    const key = `${this.#host.nodeId}/${this.topic}`;
    let entry = subscriptions.get(key);
    if (entry === undefined) {
      const subscriber = new TopicSubscriber();
      // On gossip before the name is registered: a writer that sees the name then mostly sees the gossip
      // subscription too (one that does not sends to this node directly, so this is not needed for delivery).
      const gossip = subscribeGossip(this.#host, this.topic, subscriber);
      const ref = gossip.then(() => this.#host.spawn(subscriber, { name: topicActorName(this.topic), public: true }));
      const created: Subscription = { subscriber, ref, gossip, readers: 0 };
      entry = created;
      subscriptions.set(key, created);
      ref.catch(() => {
        if (subscriptions.get(key) === created) subscriptions.delete(key);
        void gossip.then((unsubscribe) => unsubscribe?.());
      });
    }
    entry.readers++;
    try {
      await entry.ref;
    } catch (error) {
      entry.readers--;
      throw error;
    }
    for (const handler of this.#handlers) entry.subscriber.handlers.add(this.#wrapped.get(handler)!);
    this.#started = true;
  }

  /** Unsubscribes this reader (the node's subscription, and its gossip, go when its last reader stops). */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    const entry = this.#subscription();
    if (entry === undefined) return;
    for (const wrapped of this.#wrapped.values()) entry.subscriber.handlers.delete(wrapped);
    if (--entry.readers === 0) {
      subscriptions.delete(`${this.#host.nodeId}/${this.topic}`);
      try {
        (await entry.gossip)?.();
      } catch {
        // the node's gossipsub stopped already (its system shut down): nothing to leave
      }
      await this.#host.stop(await entry.ref).catch(() => {});
    }
  }

  async stats(): Promise<TopicReaderStats> {
    return { topic: this.topic, received: this.#received, started: this.#started };
  }

  #subscription(): Subscription | undefined {
    return subscriptions.get(`${this.#host.nodeId}/${this.topic}`);
  }
}

/** Messages published from each node, by node and topic (counters for the dashboard, `inspect` and `/metrics`). */
const published = new Map<string, number>();

/** One topic as seen from one node: its subscribers in the cluster, and this node's readers and counters. */
export interface TopicInventory {
  topic: string;
  /** Nodes subscribed to the topic, in this node's view. */
  subscribers: string[];
  /** This node's started readers of the topic. */
  readers: number;
  /** Messages this node's subscription handed to its readers, and messages published from this node. */
  received: number;
  published: number;
}

/** The topics `host`'s node subscribes to or has published to. */
export function topicInventory(host: QueueHost): TopicInventory[] {
  const prefix = `${host.nodeId}/`;
  const topics = new Set<string>();
  for (const key of [...subscriptions.keys(), ...published.keys()]) if (key.startsWith(prefix)) topics.add(key.slice(prefix.length));
  return [...topics].sort().map((topic) => {
    const entry = subscriptions.get(prefix + topic);
    return {
      topic,
      subscribers: host.nodesWith(topicActorName(topic)),
      readers: entry?.readers ?? 0,
      received: entry?.subscriber.received ?? 0,
      published: published.get(prefix + topic) ?? 0,
    };
  });
}

// --- writers ------------------------------------------------------------------------------------------------

/** A failure that is the publisher's, not a subscriber's: the message cannot be sent to anyone. */
function isCallersMistake(error: unknown): boolean {
  const code = error instanceof PulsingError ? (error as { code?: string }).code : undefined;
  return code === ErrorCode.ENCODING || code === ErrorCode.FRAME_TOO_LARGE;
}

/**
 * Publishes to a topic's subscribers (`topic.write()`).
 *
 * - `wait_all_acks`, `wait_any_ack`: a direct call to every subscriber node, in parallel, each with its own
 *   `timeout`; a subscriber that does not acknowledge in time is a failure then, never a hang.
 * - `fire_and_forget`, `best_effort`: published once on the topic's gossipsub topic (paced: at most `GOSSIP_RATE`
 *   gossip publishes a second from this node, each carrying what the writer published while it waited its turn;
 *   a message at most `GOSSIP_MAX_BYTES` encoded, else
 *   `FRAME_TOO_LARGE`), and sent directly to the subscribers gossipsub did not send it to (see `PublishResult` for
 *   what each reports). Gossip is not acknowledged: under loss a gossiped message may not arrive.
 *
 * A message that cannot be encoded rejects with `ENCODING` (in every mode, when it has to leave the node). A
 * subscriber that failed `MAX_FAILURES` direct sends in a row is skipped for `DROP_MS`.
 */
export class TopicWriter {
  readonly topic: string;
  readonly #host: QueueHost;
  readonly #clock: Clock;
  readonly #pacer: Pacer;
  readonly #id = crypto.randomUUID();
  #seq = 0;
  readonly #failures = new Map<string, { count: number; droppedUntil: number }>();
  /** Messages waiting for the next gossip publish, their encoded size, and whether a publish loop runs. */
  readonly #batch = new Deque<Gossiped>();
  #batchBytes = 0;
  #flushing = false;

  /** @internal `clock` and `pacer` are for tests. */
  constructor(host: QueueHost, topic: string, { clock = realClock, pacer }: { clock?: Clock; pacer?: Pacer } = {}) {
    this.#host = host;
    this.topic = topic;
    this.#clock = clock;
    this.#pacer = pacer ?? pacerOf(host);
  }

  /** The subscriber nodes, without those that kept failing (see `MAX_FAILURES`). */
  subscribers(): string[] {
    const now = this.#clock.now();
    return this.#host.nodesWith(topicActorName(this.topic)).filter((node) => (this.#failures.get(node)?.droppedUntil ?? 0) <= now);
  }

  async publish(message: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    checkOptions("publish()", options, PUBLISH_OPTIONS);
    const mode = options.mode ?? "best_effort";
    const timeout = options.timeout ?? 5_000;
    const id = `${this.#id}:${this.#seq++}`;
    const nodes = this.subscribers();
    const gossiping = (mode === "fire_and_forget" || mode === "best_effort") && this.#host.clustered && nodes.some((node) => node !== this.#host.nodeId);
    // Throws at once for a message that cannot go (encoding, size).
    const onGossip = gossiping ? this.#gossip(this.#host.gossip, mode, id, message) : Promise.resolve(new Set<string>());
    const counter = `${this.#host.nodeId}/${this.topic}`;
    published.set(counter, (published.get(counter) ?? 0) + 1);
    const send = async (node: string): Promise<void> => {
      const ref = await this.#host.resolve(topicActorName(this.topic), { nodeId: node });
      await ref.asType(TopicSubscriber).withOptions({ timeout }).deliver(message, id);
    };
    if (mode === "fire_and_forget") {
      // On its way once queued for gossip: the direct sends follow when gossipsub has said whom it reached. A writer
      // whose queue outgrows `BACKLOG_BYTES` waits for its gossip (backpressure), not for the direct sends.
      const sending = onGossip.then((viaGossip) => {
        for (const node of nodes) if (!viaGossip.has(node)) void send(node).catch(() => {});
      });
      if (this.#batchBytes > BACKLOG_BYTES) await sending;
      return { success: true, delivered: 0, failed: 0, subscriberCount: nodes.length };
    }
    const viaGossip = await onGossip;
    const gossiped = nodes.filter((node) => viaGossip.has(node));
    const direct = nodes.filter((node) => !viaGossip.has(node));
    const outcomes = direct.map((node) =>
      send(node).then(
        () => {
          this.#failures.delete(node);
          return true;
        },
        (error: unknown) => {
          if (isCallersMistake(error)) throw error;
          const failures = this.#failures.get(node) ?? { count: 0, droppedUntil: 0 };
          failures.count++;
          if (failures.count >= MAX_FAILURES) failures.droppedUntil = this.#clock.now() + DROP_MS;
          this.#failures.set(node, failures);
          return false;
        },
      ),
    );
    if (mode === "wait_any_ack" && direct.length > 0) {
      const first = await Promise.any(outcomes.map((o) => o.then((ok) => (ok ? true : Promise.reject(new Error("no ack")))))).catch(() => false);
      if (first) return { success: true, delivered: 1, failed: 0, subscriberCount: nodes.length };
    }
    const settled = await Promise.all(outcomes);
    const failedSubscribers = direct.filter((_, i) => !settled[i]);
    const delivered = gossiped.length + settled.filter(Boolean).length;
    const success = mode === "best_effort" ? true : mode === "wait_all_acks" ? failedSubscribers.length === 0 : delivered > 0;
    return { success, delivered, failed: failedSubscribers.length, subscriberCount: nodes.length, ...(failedSubscribers.length > 0 ? { failedSubscribers } : {}) };
  }

  /**
   * Publishes on the topic's gossip; resolves to the nodes gossipsub sent it to. Messages go out in publish order,
   * one gossip publish at a time, each after its turn at the node's pace: what was published meanwhile goes out
   * together in the next one (up to `GOSSIP_MAX_BYTES`), so a fast writer is batched rather than held to the pace's
   * message rate, and a slow one's messages go out alone, at once.
   */
  #gossip(gossip: TopicGossip, mode: PublishMode, id: string, message: unknown): Promise<Set<string>> {
    const body = encode(message, "message");
    const entry = { id: encode(id), body };
    const size = 1 + entry.id.byteLength + body.byteLength;
    if (size + 16 > GOSSIP_MAX_BYTES) {
      throw new PulsingRuntimeError(
        ErrorCode.FRAME_TOO_LARGE,
        `a ${mode} topic message takes ${size} bytes encoded, over the gossip limit of ${GOSSIP_MAX_BYTES} bytes ` +
          "(larger messages: wait_all_acks or wait_any_ack, sent directly up to maxFrameSize)",
      );
    }
    return new Promise((resolve) => {
      this.#batch.push({ ...entry, done: resolve });
      this.#batchBytes += size;
      if (!this.#flushing) void this.#flush(gossip);
    });
  }

  async #flush(gossip: TopicGossip): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#batch.length > 0) {
        await this.#pacer.take(1);
        const entries: Gossiped[] = [];
        let bytes = 16;
        for (let next = this.#batch.peek(); next !== undefined; next = this.#batch.peek()) {
          const size = 1 + next.id.byteLength + next.body.byteLength;
          if (entries.length > 0 && bytes + size > GOSSIP_MAX_BYTES) break;
          entries.push(this.#batch.shift()!);
          this.#batchBytes -= size;
          bytes += size;
        }
        // Big batches pay for their bytes too (one token per started `GOSSIP_TOKEN_BYTES`).
        const extra = Math.ceil(bytes / GOSSIP_TOKEN_BYTES) - 1;
        if (extra > 0) await this.#pacer.take(extra);
        let sentTo: Set<string>;
        try {
          sentTo = new Set(await gossip.publish(topicGossipName(this.topic), gossipBatch(entries)));
        } catch (error) {
          // Every subscriber gets them directly instead.
          this.#host.report(`topic '${this.topic}': publishing on gossip failed`, error);
          sentTo = new Set();
        }
        for (const entry of entries) entry.done(sentTo);
      }
    } finally {
      this.#flushing = false;
    }
  }
}

/** The topic API of one system (`system.topic`; `pul.topic` is the global system's). */
export interface TopicApi {
  write(topic: string): Promise<TopicWriter>;
  read(topic: string): Promise<TopicReader>;
}

export function topicApi(host: QueueHost): TopicApi {
  const check = (where: string, topic: unknown): string => {
    if (typeof topic !== "string" || topic.length === 0 || topic.length > 256) {
      throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, `${where}: the topic name must be a non-empty string of at most 256 characters`);
    }
    return topic;
  };
  return {
    write: async (topic) => new TopicWriter(host, check("topic.write()", topic)),
    read: async (topic) => new TopicReader(host, check("topic.read()", topic)),
  };
}
