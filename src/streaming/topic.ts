import type { ActorRef } from "../actor/actor-ref.js";
import { registerClass } from "../actor/class-registry.js";
import { DEFAULT_SUPERVISION } from "../actor/supervision.js";
import { ErrorCode, PulsingError, PulsingRuntimeError } from "../errors/errors.js";
import { checkOptions, integer, oneOf, type OptionSchema } from "../util/options.js";
import type { QueueHost } from "./queue-host.js";

/**
 * Topics (Pulsing's `TopicWriter` / `TopicReader`): every subscriber node runs one `TopicSubscriber` actor per topic,
 * public under `pulsing/topic/<name>`, which hands each message to the readers of that topic on its node. A writer
 * finds the subscribers in the cluster's registry (every node with that name) and sends to each directly, in
 * parallel, each with its own timeout; the publish mode says what it waits for.
 */
export const topicActorName = (topic: string): string => `pulsing/topic/${topic}`;

export type PublishMode = "fire_and_forget" | "best_effort" | "wait_all_acks" | "wait_any_ack";

export interface PublishOptions {
  /** @default "best_effort" */
  mode?: PublishMode;
  /** Per subscriber, ms. @default 5_000 */
  timeout?: number;
}

/** What a publish did: subscribers are counted by node (one subscription actor per node and topic). */
export interface PublishResult {
  /** fire_and_forget: sent; best_effort: always; wait_all_acks: every subscriber acknowledged; wait_any_ack: one did. */
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
/** Message ids a subscriber remembers (a retried delivery is handed to readers once). */
const SEEN_IDS = 4_096;

type Handler = (message: unknown) => unknown;

/** One node's subscription to a topic: hands each message to the node's readers of it, once. */
export class TopicSubscriber {
  readonly handlers = new Set<Handler>();
  readonly #seen = new Set<string>();
  /** Messages handed to this node's readers (a counter: rates come from two samples). */
  received = 0;

  /** A message; resolves (the acknowledgement) once every reader here has handled it. */
  async deliver(message: unknown, id: string): Promise<boolean> {
    if (typeof id !== "string") throw new PulsingRuntimeError(ErrorCode.INVALID_ARGUMENT, "topic deliver: expected a message id");
    if (this.#seen.has(id)) return true;
    this.#seen.add(id);
    if (this.#seen.size > SEEN_IDS) this.#seen.delete(this.#seen.values().next().value!);
    this.received++;
    await Promise.all([...this.handlers].map(async (handler) => handler(message)));
    return true;
  }
}

registerClass(TopicSubscriber, "pulsing.TopicSubscriber", { ...DEFAULT_SUPERVISION });

/** Subscription actors of this realm, by node and topic (the readers of one node share one). */
const subscriptions = new Map<string, Subscription>();

/** One node's subscription to a topic, shared by its started readers (it goes when the last one stops). */
interface Subscription {
  subscriber: TopicSubscriber;
  ref: Promise<ActorRef>;
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
      const ref = this.#host.spawn(subscriber, { name: topicActorName(this.topic), public: true });
      entry = { subscriber, ref, readers: 0 };
      subscriptions.set(key, entry);
      ref.catch(() => subscriptions.delete(key));
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

  /** Unsubscribes this reader (the node's subscription goes when its last reader stops). */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    const entry = this.#subscription();
    if (entry === undefined) return;
    for (const wrapped of this.#wrapped.values()) entry.subscriber.handlers.delete(wrapped);
    if (--entry.readers === 0) {
      subscriptions.delete(`${this.#host.nodeId}/${this.topic}`);
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

/** Publishes to a topic's subscribers (`topic.write()`). */
export class TopicWriter {
  readonly topic: string;
  readonly #host: QueueHost;
  readonly #id = crypto.randomUUID();
  #seq = 0;
  readonly #failures = new Map<string, { count: number; droppedUntil: number }>();

  /** @internal */
  constructor(host: QueueHost, topic: string) {
    this.#host = host;
    this.topic = topic;
  }

  /** The subscriber nodes, without those that kept failing (see `MAX_FAILURES`). */
  subscribers(): string[] {
    const now = Date.now();
    return this.#host.nodesWith(topicActorName(this.topic)).filter((node) => (this.#failures.get(node)?.droppedUntil ?? 0) <= now);
  }

  async publish(message: unknown, options: PublishOptions = {}): Promise<PublishResult> {
    checkOptions("publish()", options, PUBLISH_OPTIONS);
    const mode = options.mode ?? "best_effort";
    const timeout = options.timeout ?? 5_000;
    const id = `${this.#id}:${this.#seq++}`;
    const counter = `${this.#host.nodeId}/${this.topic}`;
    published.set(counter, (published.get(counter) ?? 0) + 1);
    const nodes = this.subscribers();
    const send = async (node: string): Promise<void> => {
      const ref = await this.#host.resolve(topicActorName(this.topic), { nodeId: node });
      if (mode === "fire_and_forget") await ref.asType(TopicSubscriber).withOptions({ timeout }).deliver(message, id).catch(() => {});
      else await ref.asType(TopicSubscriber).withOptions({ timeout }).deliver(message, id);
    };
    if (mode === "fire_and_forget") {
      for (const node of nodes) void send(node).catch(() => {});
      return { success: true, delivered: 0, failed: 0, subscriberCount: nodes.length };
    }
    const outcomes = nodes.map((node) =>
      send(node).then(
        () => {
          this.#failures.delete(node);
          return true;
        },
        (error: unknown) => {
          // A message that cannot be sent at all is the caller's mistake, not the subscriber's.
          if (error instanceof PulsingError && (error as { code?: string }).code === ErrorCode.ENCODING) throw error;
          const failures = this.#failures.get(node) ?? { count: 0, droppedUntil: 0 };
          failures.count++;
          if (failures.count >= MAX_FAILURES) failures.droppedUntil = Date.now() + DROP_MS;
          this.#failures.set(node, failures);
          return false;
        },
      ),
    );
    if (mode === "wait_any_ack" && nodes.length > 0) {
      const first = await Promise.any(outcomes.map((o) => o.then((ok) => (ok ? true : Promise.reject(new Error("no ack")))))).catch(() => false);
      if (first) return { success: true, delivered: 1, failed: 0, subscriberCount: nodes.length };
    }
    const settled = await Promise.all(outcomes);
    const failedSubscribers = nodes.filter((_, i) => !settled[i]);
    const delivered = settled.filter(Boolean).length;
    const success = mode === "best_effort" ? true : mode === "wait_all_acks" ? failedSubscribers.length === 0 : delivered > 0;
    return { success, delivered, failed: failedSubscribers.length, subscriberCount: nodes.length, ...(failedSubscribers.length > 0 ? { failedSubscribers } : {}) };
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
