/**
 * The actors of the live demo, shared by the seed (which hosts a `TokenStreamer` and the `chat/lobby` room) and
 * the dashboard tabs (which spawn counters, mount chat listeners and call the seed's actors). The same classes run
 * in Node, Deno and browsers.
 *
 * They use the function form `pul.remote({ name })(class …)`: browser builds (Vite 8) do not lower standard
 * decorators, and minifiers drop or mangle class names, so each class is registered under an explicit name.
 *
 * ```ts
 * import { hostDemoActors } from "./examples/demo-actors.js";
 * const seed = await startSeed({ dashboard: { root: "dist/demo", port: 8080 } });
 * await hostDemoActors(seed.system);   // "demo/tokens" and "chat/lobby" on the seed
 * ```
 */
import * as pul from "pulsing";

/** Where the seed hosts the demo's shared actors. */
export const TOKEN_STREAMER_NAME = "demo/tokens";
export const CHAT_LOBBY_NAME = "chat/lobby";

/** The name a tab gives its counter. */
export const counterName = (shortId: string): string => `tab/${shortId}/counter`;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// --- a counter ----------------------------------------------------------------------------------------------

/** A small stateful actor: what the "spawn a counter" button starts in a tab. */
export const DemoCounter = pul.remote({ name: "DemoCounter" })(
  class DemoCounter {
    value: number;
    constructor(init = 0) {
      this.value = init;
    }
    /** Adds one; returns the new value. */
    incr(): number {
      return ++this.value;
    }
    /** Adds `n` (a finite number, or a typed `PulsingBusinessError` reaches the caller). */
    add(n: number): number {
      if (typeof n !== "number" || !Number.isFinite(n)) {
        throw new pul.PulsingBusinessError("bad_argument", `add(n): n must be a finite number, got ${JSON.stringify(n)}`);
      }
      return (this.value += n);
    }
    get(): number {
      return this.value;
    }
    reset(): number {
      return (this.value = 0);
    }
    /** Counts from the current value up to `to`, one item at a time (a streaming method). */
    async *countTo(to: number, delayMs = 100): AsyncGenerator<number> {
      while (this.value < to) {
        yield ++this.value;
        await sleep(delayMs);
      }
    }
  },
);
export type DemoCounter = InstanceType<typeof DemoCounter>;

// --- a CPU-heavy actor, for worker nodes ----------------------------------------------------------------------

/** The name a tab gives the cruncher it spawns into one of its Web Worker nodes. */
export const cruncherName = (workerShortId: string): string => `worker/${workerShortId}/cruncher`;

/**
 * Work that would freeze a tab's page if it ran on the main thread: what the dashboard spawns into a Web Worker
 * node (`spawnWorkers` from `pulsing/node`), where it runs on a thread of its own and is called like any actor.
 */
export const Cruncher = pul.remote({ name: "Cruncher" })(
  class Cruncher {
    /** How many primes there are below `limit` (a sieve; at most 50 million), and how long counting took. */
    countPrimes(limit: number): { limit: number; primes: number; ms: number } {
      if (!Number.isInteger(limit) || limit < 0 || limit > 50_000_000) {
        throw new pul.PulsingBusinessError("bad_argument", `countPrimes(limit): limit must be a whole number from 0 to 50000000, got ${JSON.stringify(limit)}`);
      }
      const started = performance.now();
      const composite = new Uint8Array(limit);
      let primes = 0;
      for (let i = 2; i < limit; i++) {
        if (composite[i] === 1) continue;
        primes++;
        for (let j = i * i; j < limit; j += i) composite[j] = 1;
      }
      return { limit, primes, ms: Math.round(performance.now() - started) };
    }
    /** Returns its argument: what a call into the worker costs by itself (`npm run bench -- web-worker`). */
    echo<T>(value: T): T {
      return value;
    }
    /** Which node this actor is on, and whether it runs in a Web Worker. */
    where(): { nodeId: string; inWebWorker: boolean } {
      return { nodeId: pul.getSystem().nodeId, inWebWorker: (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== undefined };
    }
  },
);
export type Cruncher = InstanceType<typeof Cruncher>;

// --- a token streamer ---------------------------------------------------------------------------------------

const WORDS = (
  "actors exchange messages across the mesh while every tab becomes a node of the cluster " +
  "and replies stream back token by token with backpressure so a slow reader never drowns " +
  "the same class runs in node deno and the browser over websockets webrtc or a relay " +
  "names resolve anywhere failures are supervised errors keep their class on the wire"
).split(" ");

/** A seeded pseudo-random generator (mulberry32), so a prompt always yields the same words. */
function randomFrom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Streams words like a language model would: the demo's streaming actor. */
export const TokenStreamer = pul.remote({ name: "TokenStreamer" })(
  class TokenStreamer {
    #delayMs: number;
    #served = 0;
    #cancelled = 0;
    constructor(delayMs = 60) {
      this.#delayMs = delayMs;
    }
    /**
     * Yields `count` words (at most 1000) seeded by `prompt`, one every few tens of ms. A reader that cancels
     * stops the generator: its `finally` runs.
     */
    async *generate(prompt: string, count = 40): AsyncGenerator<string> {
      if (typeof prompt !== "string") throw new pul.PulsingBusinessError("bad_argument", "generate(prompt, count): prompt must be a string");
      const n = Math.max(0, Math.min(1000, Math.floor(Number(count) || 0)));
      const random = randomFrom(hash(prompt));
      const echo = prompt.split(/\s+/).filter((w) => w.length > 0);
      let sent = 0;
      try {
        for (; sent < n; sent++) {
          await sleep(this.#delayMs * (0.5 + random()));
          const fromPrompt = echo.length > 0 && random() < 0.15;
          const word = fromPrompt ? echo[Math.floor(random() * echo.length)]! : WORDS[Math.floor(random() * WORDS.length)]!;
          yield sent === 0 ? word : ` ${word}`;
        }
      } finally {
        if (sent < n) this.#cancelled++;
        this.#served++;
      }
    }
    /** How many streams it served, and how many of them were cancelled before the end. */
    stats(): { served: number; cancelled: number } {
      return { served: this.#served, cancelled: this.#cancelled };
    }
  },
);
export type TokenStreamer = InstanceType<typeof TokenStreamer>;

// --- chat ---------------------------------------------------------------------------------------------------

const MAX_TEXT = 500;
const MAX_NAME = 40;
const HISTORY = 200;
const DELIVER_TIMEOUT_MS = 3_000;

export interface ChatMessage {
  /** Increasing within a room. */
  id: number;
  from: string;
  text: string;
  /** Epoch ms on the room's node */
  at: number;
  /** Messages the room itself writes (joins, leaves). */
  system?: boolean;
}

/** What a room member must answer: the room calls `deliver(msg)` on it for every message. */
export interface ChatMemberLike {
  deliver(msg: ChatMessage): PromiseLike<unknown>;
}

/**
 * A member's end of a chat: mounted in a tab (`pul.mount(new ChatListener(render), { name, public: false })`) and
 * handed to the room, which pushes every message to it. Without a sink (spawned by name on another node) it
 * keeps the last messages, readable with `received()`.
 */
export const ChatListener = pul.remote({ name: "ChatListener" })(
  class ChatListener {
    readonly #sink: ((msg: ChatMessage) => void) | undefined;
    readonly #inbox: ChatMessage[] = [];
    constructor(sink?: (msg: ChatMessage) => void) {
      this.#sink = sink;
    }
    deliver(msg: ChatMessage): void {
      if (this.#sink !== undefined) {
        this.#sink(msg);
        return;
      }
      this.#inbox.push(msg);
      if (this.#inbox.length > HISTORY) this.#inbox.shift();
    }
    received(): ChatMessage[] {
      return [...this.#inbox];
    }
  },
);
export type ChatListener = InstanceType<typeof ChatListener>;

/**
 * A chat room: members join with an actor (proxy or ref) that has `deliver(msg)`; `post` appends to the
 * history and pushes the message to every member. A member that cannot be reached is dropped.
 */
export const ChatRoom = pul.remote({ name: "ChatRoom" })(
  class ChatRoom {
    #history: ChatMessage[] = [];
    #nextId = 1;
    /** By the member actor's id, so a tab that re-joins replaces itself. */
    #members = new Map<string, { name: string; member: ChatMemberLike }>();

    /** Adds `member` under `name`; returns the recent history (the join message included). */
    join(name: string, member: ChatMemberLike | pul.ActorRef): ChatMessage[] {
      const who = checkName(name);
      const proxy = member instanceof pul.ActorRef ? (member.asAny() as unknown as ChatMemberLike) : member;
      if (typeof (proxy as { deliver?: unknown })?.deliver !== "function") {
        throw new pul.PulsingBusinessError("bad_argument", "join(name, member): member must be an actor ref or proxy with deliver(msg)");
      }
      const key = memberKey(proxy);
      const rejoin = this.#members.get(key);
      this.#members.set(key, { name: who, member: proxy });
      if (rejoin === undefined || rejoin.name !== who) this.#append("system", `${who} joined`, true);
      return this.history();
    }

    /** Removes the member that joined with this actor. */
    leave(member: ChatMemberLike | pul.ActorRef): boolean {
      const proxy = member instanceof pul.ActorRef ? (member.asAny() as unknown as ChatMemberLike) : member;
      const key = memberKey(proxy);
      const entry = this.#members.get(key);
      if (entry === undefined) return false;
      this.#members.delete(key);
      this.#append("system", `${entry.name} left`, true);
      return true;
    }

    /** Posts `text` as `from`; every member receives it through `deliver`. Returns the message. */
    post(from: string, text: string): ChatMessage {
      const who = checkName(from);
      if (typeof text !== "string" || text.trim() === "") throw new pul.PulsingBusinessError("empty_message", "post(from, text): text is empty");
      if (text.length > MAX_TEXT) {
        throw new pul.PulsingBusinessError("too_long", `post(from, text): text is ${text.length} characters; the limit is ${MAX_TEXT}`);
      }
      return this.#append(who, text, false);
    }

    history(limit = HISTORY): ChatMessage[] {
      return this.#history.slice(-Math.max(0, Math.min(HISTORY, limit)));
    }

    /** The members' names. */
    members(): string[] {
      return [...this.#members.values()].map((m) => m.name);
    }

    #append(from: string, text: string, system: boolean): ChatMessage {
      const msg: ChatMessage = { id: this.#nextId++, from, text, at: Date.now(), ...(system ? { system: true } : {}) };
      this.#history.push(msg);
      if (this.#history.length > HISTORY) this.#history.splice(0, this.#history.length - HISTORY);
      for (const [key, { name, member }] of this.#members) {
        const timed = (member as unknown as pul.ActorProxy<any>).withOptions?.({ timeout: DELIVER_TIMEOUT_MS }) ?? member;
        Promise.resolve((timed as unknown as ChatMemberLike).deliver(msg)).then(undefined, () => {
          // Gone (its tab closed) or stuck: drop it, once.
          if (this.#members.get(key)?.member === member) {
            this.#members.delete(key);
            this.#append("system", `${name} left`, true);
          }
        });
      }
      return msg;
    }
  },
);
export type ChatRoom = InstanceType<typeof ChatRoom>;

function checkName(name: unknown): string {
  if (typeof name !== "string" || name.trim() === "") throw new pul.PulsingBusinessError("bad_argument", "a chat name must be a non-empty string");
  return name.trim().slice(0, MAX_NAME);
}

function memberKey(member: ChatMemberLike): string {
  const json = (member as { toJSON?: () => { actorId?: string } }).toJSON?.();
  return json?.actorId ?? `local:${Math.random()}`;
}

/** Starts the demo's shared actors on `system` (what a demo seed runs): the token streamer and the lobby. */
export async function hostDemoActors(system: pul.ActorSystem): Promise<{ tokens: pul.ActorRef; lobby: pul.ActorRef }> {
  const tokens = await system.spawn(TokenStreamer, { name: TOKEN_STREAMER_NAME });
  const lobby = await system.spawn(ChatRoom, { name: CHAT_LOBBY_NAME });
  return { tokens, lobby };
}
