/**
 * `npm run bench -- queue`: queues and topics against Redis (Debian `redis-server`, started here on a free loopback
 * port with no persistence), each measurement next to its Redis peer from the same run, as ratios.
 *
 * - put: this process's node writes records (batches of 100, `numBuckets` buckets placed by distance over this node
 *   and a node in another process) with `replication` 1 and 2 (`acks` "leader", and "all"), from the first `put()`
 *   to `flush()` resolving; Redis: the same records `XADD`ed to one stream per bucket, pipelined 100 deep, one
 *   pipeline in flight per stream (as the writer has one batch in flight per bucket).
 * - read: the replication-1 queue read back whole, one reader per bucket in parallel, `get({ limit: 100 })` until
 *   empty; Redis: `XRANGE … COUNT 100` and `XREAD COUNT 100` per stream in parallel (entries made into records).
 * - fan-out: messages published to a topic with 3 subscriber nodes (one more process), 100 publishes in flight,
 *   until all 3 subscribers have every message, per publish mode; Redis: `PUBLISH` pipelined 100 deep to 3
 *   subscriber connections in that same process, until all 3 have every message.
 * Rounds of the two sides alternate (the machine is noisy: the ratio is the figure); medians of `ROUNDS` rounds
 * after a warm-up round.
 *
 * PULSING_BENCH_PROFILE=dir: afterwards, V8 CPU profiles of extra rounds (put, read, fan-out), of this process and of
 * the far one: dir/queue-<what>-<process>.cpuprofile.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import * as pul from "pulsing";
import { spawnLineProcess, type LineProcess } from "../test/cluster/line-process.js";
import { fmtRate, pipelined, table, within } from "./harness.js";

const REDIS_SERVER = "/usr/bin/redis-server";
const PEER = fileURLToPath(new URL("./queue-peer.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The whole group, start-up and shutdown included: a hard cap (on a busy machine fan-out ends early, see below). */
const GROUP_BUDGET_MS = 150_000;
/** No one step may take longer than this (a hung peer fails the group instead of hanging it). */
const STEP_LIMIT_MS = 30_000;

const RECORDS = 20_000;
const BATCH = 100;
const NUM_BUCKETS = 8;
/**
 * Few: `fire_and_forget` and `best_effort` go on gossipsub, paced at 1,000 messages a second at most
 * (src/streaming/topic.ts); on a busy 2-core machine they were delivered at 100–200 a second.
 */
const MESSAGES = 5_000;
/** A lossy mode's round ends once no message arrived for this long. */
const QUIET_MS = 1_500;
const SUBSCRIBERS = 3;
const IN_FLIGHT = 100;
const ROUNDS = 3;
const DATA = "x".repeat(64);

type Record_ = { id: string; seq: number; data: string };
type PublishMode = "fire_and_forget" | "best_effort" | "wait_all_acks" | "wait_any_ack";
const MODES: PublishMode[] = ["fire_and_forget", "wait_any_ack", "wait_all_acks", "best_effort"];

/** PULSING_BENCH_VERBOSE=1: every round's rates as they come. */
const verbose = process.env.PULSING_BENCH_VERBOSE !== undefined;
const log = (line: string): void => void (verbose && console.log(`[bench] ${line}`));

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const tcpOf = (addrs: string[]): string => {
  const addr = addrs.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/") && !a.includes("/ws"));
  if (addr === undefined) throw new Error(`no loopback TCP address among ${addrs.join(", ")}`);
  return addr;
};

/** Pulsing's bucket rule (md5 of the key as a big-endian integer, mod n): Redis gets one stream per bucket. */
function bucketOf(key: string, n: number): number {
  let rest = 0;
  for (const byte of createHash("md5").update(key).digest()) rest = (rest * 256 + byte) % n;
  return rest;
}

function records(from: number, count: number): Record_[] {
  return Array.from({ length: count }, (_, i) => ({ id: `user-${(from + i) % 1_000}`, seq: from + i, data: DATA }));
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, "close");
  return port;
}

interface RedisServer {
  port: number;
  version: string;
  stop(): Promise<void>;
}

/** redis-server on a free loopback port, in a temp dir, no persistence; installed first when missing (as root). */
async function startRedis(): Promise<RedisServer> {
  if (!existsSync(REDIS_SERVER)) {
    const root = process.getuid?.() === 0;
    if (root) {
      console.log(`[bench] ${REDIS_SERVER} is missing: apt-get install -y redis-server`);
      spawnSync("apt-get", ["install", "-y", "redis-server"], { stdio: "inherit", timeout: 120_000, env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    }
    if (!existsSync(REDIS_SERVER)) {
      throw new Error(`the queue benchmark needs Redis as its peer: ${REDIS_SERVER} is missing (install Debian's redis-server: apt-get install -y redis-server)`);
    }
  }
  const dir = mkdtempSync(join(tmpdir(), "pulsing-bench-redis-"));
  const port = await freePort();
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", "--loglevel", "warning"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const kill = (): void => void child.kill("SIGKILL");
  process.on("exit", kill);
  const stop = async (): Promise<void> => {
    process.off("exit", kill);
    if (child.exitCode === null && child.signalCode === null) {
      const gone = once(child, "exit");
      child.kill("SIGKILL");
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const probe = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => {}); // refused until it listens: the loop below tries again
    let version = "?";
    await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode})`);
        try {
          await probe.connect();
          version = /redis_version:(\S+)/.exec(await probe.info("server"))?.[1] ?? "?";
          return true;
        } catch {
          probe.disconnect();
          return false;
        }
      },
      10_000,
      "redis-server accepting connections",
    );
    probe.disconnect();
    return { port, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** A queue-peer.ts process (nodes of this cluster; see there); `--cpu-prof` flags of this process pass through. */
type PeerNodes = LineProcess & { nodeIds: string[]; addrs: string[][] };

async function startPeerNodes(count: number, seeds: string[], name: string): Promise<PeerNodes> {
  const profiling = process.execArgv.filter((arg) => arg.startsWith("--cpu-prof"));
  const child = spawnLineProcess(
    process.execPath,
    [...profiling, "--conditions=pulsing-source", "--import", "tsx", PEER, JSON.stringify({ count, seeds })],
    ROOT,
    name,
  );
  const ready = await child.next(60_000).catch(async (error: unknown) => {
    await child.kill();
    throw error;
  });
  if (!("ready" in ready)) {
    await child.kill();
    throw new Error(`${name} failed to start: ${JSON.stringify(ready)}`);
  }
  const { nodeIds, addrs } = ready.ready as { nodeIds: string[]; addrs: string[][] };
  return Object.assign(child, { nodeIds, addrs });
}

/** CPU profiles of this process (an inspector session) and of a peer process, over `work`. */
async function profiled(dir: string, what: string, peer: LineProcess, work: () => Promise<void>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const { Session } = await import("node:inspector/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const peerPath = join(dir, `queue-${what}-peer.cpuprofile`);
  await peer.ask({ profileStart: true });
  try {
    await work();
  } finally {
    const { profile } = await session.post("Profiler.stop");
    writeFileSync(join(dir, `queue-${what}-main.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
    await peer.ask({ profileStop: { path: peerPath } });
    console.log(`[bench] profiles: ${join(dir, `queue-${what}-{main,peer}.cpuprofile`)}`);
  }
}

export async function benchQueue(): Promise<void> {
  // Profiling adds rounds (and slows everything down).
  const deadline = performance.now() + GROUP_BUDGET_MS + (process.env.PULSING_BENCH_PROFILE === undefined ? 0 : 90_000);
  const step = <T>(what: string, work: () => Promise<T>): Promise<T> => {
    const left = Math.min(STEP_LIMIT_MS, deadline - performance.now());
    if (left <= 0) return Promise.reject(new Error(`queue group: out of time before ${what}`));
    return within(left, what, work());
  };

  let redisServer: RedisServer | undefined;
  let redis: Redis | undefined;
  let owner: PeerNodes | undefined;
  let subscriberHost: PeerNodes | undefined;
  let system: pul.ActorSystem | undefined;
  try {
    const server = (redisServer = await step("starting redis-server", startRedis));
    const client = (redis = new Redis({ host: "127.0.0.1", port: server.port, maxRetriesPerRequest: 1 }));
    await client.ping();

    // Two nodes: this process (the writer, the readers, the publisher) and one in another process.
    const far = (owner = await step("starting the far node", () => startPeerNodes(1, [], "queue peer")));
    const local = (system = await step("joining the far node", () => pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpOf(far.addrs[0]!)] })));
    await step("two nodes in both views", () =>
      until(async () => alive(local) === 2 && ((await far.ask({ members: true })).alive as number[])[0] === 2, 20_000, "two nodes"),
    );

    // ---- put ----
    const configs = [
      { tag: "r1", replication: 1, acks: "leader" as const },
      { tag: "r2", replication: 2, acks: "leader" as const },
      { tag: "r2all", replication: 2, acks: "all" as const },
    ];
    const putRates = new Map<string, { pulsing: number[]; redis: number[] }>();
    const written = new Map<string, number>();
    let split = "";
    for (const config of configs) {
      const name = `bench/queue-${config.tag}`;
      const writer = await local.queue.write(name, { bucketColumn: "id", numBuckets: NUM_BUCKETS, batchSize: BATCH, replication: config.replication, acks: config.acks });
      const rates = { pulsing: [] as number[], redis: [] as number[] };
      putRates.set(config.tag, rates);
      let seq = 0;
      for (let round = 0; round <= ROUNDS; round++) {
        const count = round === 0 ? RECORDS / 5 : RECORDS; // round 0: the warm-up
        const batch = records(seq, count);
        seq += count;
        const pulsing = await step(`put ${config.tag}`, () => pulsingPut(writer, batch));
        const redisRate = await step(`XADD ${config.tag}`, () => redisPut(client, `bench:${config.tag}`, batch));
        log(`put ${config.tag} round ${round}: ${fmtRate(pulsing)} against XADD ${fmtRate(redisRate)}`);
        if (round > 0) {
          rates.pulsing.push(pulsing);
          rates.redis.push(redisRate);
        }
      }
      written.set(config.tag, seq);
      if (config.tag === "r1") {
        const stats = await writer.stats();
        const total = stats.buckets.reduce((sum, b) => sum + (b.totalCount ?? 0), 0);
        if (total !== seq) throw new Error(`queue ${name} holds ${total} records, ${seq} were put`);
        const here = stats.buckets.filter((b) => b.owner === local.nodeId).length;
        split = `${NUM_BUCKETS - here} of ${NUM_BUCKETS} buckets owned by the far process, ${here} by the writer's`;
      }
    }

    // ---- read (the replication-1 queue, whole) ----
    const total = written.get("r1")!;
    const readers = await Promise.all(
      Array.from({ length: NUM_BUCKETS }, (_, bucketId) => local.queue.read("bench/queue-r1", { bucketId, numBuckets: NUM_BUCKETS })),
    );
    const readRates = { pulsing: [] as number[], xrange: [] as number[], xread: [] as number[] };
    for (let round = 0; round <= ROUNDS; round++) {
      const pulsing = await step("queue read", () => pulsingRead(readers, total));
      const xrange = await step("XRANGE", () => redisRead(client, "bench:r1", total, "xrange"));
      const xread = await step("XREAD", () => redisRead(client, "bench:r1", total, "xread"));
      log(`read round ${round}: ${fmtRate(pulsing)} against XRANGE ${fmtRate(xrange)}, XREAD ${fmtRate(xread)}`);
      if (round > 0) {
        readRates.pulsing.push(pulsing);
        readRates.xrange.push(xrange);
        readRates.xread.push(xread);
      }
    }

    const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
    const verdict = (met: boolean): string => (met ? "met" : "MISSED");
    const putRow = (tag: string, what: string, target: number): [string, string, string] => {
      const r = putRates.get(tag)!;
      const p = median(r.pulsing);
      const x = median(r.redis);
      return [what, `${fmtRate(p)} against XADD ${fmtRate(x)}`, `${ratio(p, x)} Redis (target ≥ ${target}×: ${verdict(p / x >= target)}; rounds ${r.pulsing.map((v, i) => (v / r.redis[i]!).toFixed(2)).join(", ")})`];
    };
    const readP = median(readRates.pulsing);
    const readX = median(readRates.xrange);
    const readXr = median(readRates.xread);
    table(
      `queue: ${RECORDS.toLocaleString("en")} records of ~90 bytes per round, batches of ${BATCH}, ${NUM_BUCKETS} buckets on 2 nodes (${split}); Redis ${server.version} on loopback, one connection; records/s, medians of ${ROUNDS} rounds`,
      [
        ["put (first put() → flush() resolved)", "records/s", "pulsing / Redis"],
        putRow("r1", "put, replication 1", 1),
        putRow("r2", "put, replication 2, acks leader", 0.5),
        putRow("r2all", "put, replication 2, acks all", 0.5),
        [`read (${total.toLocaleString("en")} records, one reader per bucket)`, "records/s", ""],
        ["get({ limit: 100 }) until empty", `${fmtRate(readP)} against XRANGE COUNT 100 ${fmtRate(readX)}, XREAD COUNT 100 ${fmtRate(readXr)}`, `${ratio(readP, readX)} XRANGE, ${ratio(readP, readXr)} XREAD (target ≥ 1×: ${verdict(readP >= Math.max(readX, readXr))})`],
      ],
    );

    // PULSING_BENCH_PROFILE: extra rounds, profiled, after the measured ones.
    const profileDir = process.env.PULSING_BENCH_PROFILE;
    if (profileDir !== undefined) {
      const writer = await local.queue.write("bench/queue-r1", { bucketColumn: "id", numBuckets: NUM_BUCKETS, batchSize: BATCH });
      await profiled(profileDir, "put-r1", far, async () => {
        for (let i = 0; i < 2; i++) await pulsingPut(writer, records(i * RECORDS, RECORDS));
      });
      const replicated = await local.queue.write("bench/queue-r2", { bucketColumn: "id", numBuckets: NUM_BUCKETS, batchSize: BATCH, replication: 2 });
      await profiled(profileDir, "put-r2", far, async () => {
        for (let i = 0; i < 2; i++) await pulsingPut(replicated, records(i * RECORDS, RECORDS));
      });
      const all = total + 2 * RECORDS;
      await profiled(profileDir, "read", far, async () => {
        for (let i = 0; i < 2; i++) await pulsingRead(readers, all);
      });
    }

    // ---- topic fan-out: 3 subscriber nodes in one more process (they own no bucket: none is read or written now) ----
    const subscribers = (subscriberHost = await step("starting the subscriber nodes", () =>
      startPeerNodes(SUBSCRIBERS, [tcpOf(local.addrs)], "topic subscribers"),
    ));
    await step("five nodes", () => until(() => alive(local) === 2 + SUBSCRIBERS, 20_000, "subscriber nodes joining"));
    await step("subscribing", () => subscribers.ask({ subscribe: { topic: "bench/fanout" } }));
    await step("subscribing (redis)", () => subscribers.ask({ redisSubscribe: { port: server.port, channel: "bench:fanout", connections: SUBSCRIBERS } }));
    const topic = await local.topic.write("bench/fanout");
    await step("subscribers known", () => until(() => topic.subscribers().length === SUBSCRIBERS, 20_000, "3 subscribers in the registry"));
    const received = async (kind: "pulsing" | "redis"): Promise<number> => (await subscribers.ask({ await: { kind, count: 0, ms: 1_000 } })).reached as number;
    /** When every subscriber has every message; in a lossy mode, when the last came, once none came for QUIET_MS. */
    const delivered = async (kind: "pulsing" | "redis", count: number, lossy: boolean): Promise<{ at: number; got: number }> => {
      const answer = await subscribers.ask({ await: { kind, count, ms: 15_000, ...(lossy ? { quietMs: QUIET_MS } : {}) } }, 20_000);
      if ("timedOut" in answer) throw new Error(`${kind}: ${answer.timedOut as number} of ${count} messages received`);
      if ("settled" in answer) return { at: performance.now() - (answer.quietMs as number), got: answer.settled as number };
      return { at: performance.now(), got: answer.reached as number };
    };
    const fanout = new Map<string, number[]>();
    const redisFanout: number[] = [];
    const failedPublishes = new Map<string, number>();
    const lost = new Map<string, number>();
    const broken = new Map<string, string>();
    let shortViews = 0;
    let fanoutRounds = 0;
    for (let round = 0; round <= ROUNDS; round++) {
      // Out of time (a busy machine): the rounds done so far are reported.
      if (round > 1 && deadline - performance.now() < 25_000) break;
      if (round > 0) fanoutRounds++;
      const count = round === 0 ? MESSAGES / 5 : MESSAGES;
      for (const mode of MODES) {
        if (broken.has(mode)) continue;
        const rate = await step(`publish ${mode}`, async () => {
          const base = await received("pulsing");
          let next = 0;
          let failed = 0;
          const t = performance.now();
          await pipelined(count, IN_FLIGHT, async () => {
            const result = await topic.publish({ seq: next++, data: DATA }, { mode });
            if (!result.success) failed++;
            if (result.subscriberCount < SUBSCRIBERS) shortViews++;
          });
          const done = await delivered("pulsing", base + SUBSCRIBERS * count, mode === "fire_and_forget" || mode === "best_effort");
          failedPublishes.set(mode, (failedPublishes.get(mode) ?? 0) + failed);
          if (round > 0) lost.set(mode, (lost.get(mode) ?? 0) + base + SUBSCRIBERS * count - done.got);
          return (done.got - base) / SUBSCRIBERS / ((done.at - t) / 1000);
        }).catch((error: unknown) => {
          // Reported, and the mode skipped from here on: the other modes and Redis still get measured.
          broken.set(mode, `round ${round}: ${(error as Error).message}`);
          return undefined;
        });
        if (rate === undefined) continue;
        log(`publish ${mode} round ${round}: ${fmtRate(rate)}`);
        if (round > 0) fanout.set(mode, [...(fanout.get(mode) ?? []), rate]);
      }
      const redisRate = await step("PUBLISH", async () => {
        if (deadline - performance.now() < 5_000) throw new Error("out of time");
        const base = await received("redis");
        const t = performance.now();
        for (let i = 0; i < count; i += IN_FLIGHT) {
          const pipeline = client.pipeline();
          for (let j = i; j < Math.min(count, i + IN_FLIGHT); j++) pipeline.publish("bench:fanout", JSON.stringify({ seq: j, data: DATA }));
          await pipeline.exec();
        }
        await delivered("redis", base + SUBSCRIBERS * count, false);
        return count / ((performance.now() - t) / 1000);
      }).catch(() => undefined);
      if (redisRate === undefined) break;
      log(`PUBLISH round ${round}: ${fmtRate(redisRate)}`);
      if (round > 0) redisFanout.push(redisRate);
    }

    const redisPub = median(redisFanout);
    if (shortViews > 0) console.log(`[bench] ${shortViews} publishes saw fewer than ${SUBSCRIBERS} subscribers (a subscriber left the writer's view or was skipped)`);
    table(
      `topic fan-out: ${MESSAGES.toLocaleString("en")} messages of ~80 bytes per round to ${SUBSCRIBERS} subscriber nodes (one process), ${IN_FLIGHT} publishes in flight, until every subscriber has every message (fire_and_forget, best_effort: until the last that came; lost ones count against the rate); messages/s, medians of ${fanoutRounds} rounds${fanoutRounds < ROUNDS ? " (out of time for more)" : ""}`,
      [
        ["mode", "messages/s (× 3 deliveries)", "pulsing / Redis PUBLISH (pipelined 100 deep, 3 subscriber connections)"],
        ...MODES.map((mode): [string, string, string] => {
          const failure = broken.get(mode);
          if (failure !== undefined) return [mode, `FAILED (${failure})`, ""];
          if (fanout.get(mode) === undefined || redisFanout.length === 0) return [mode, "not measured (out of time)", ""];
          const rate = median(fanout.get(mode)!);
          const failed = failedPublishes.get(mode) ?? 0;
          const missing = lost.get(mode) ?? 0;
          const notes = [
            ...(failed > 0 ? [`${failed} publishes not successful`] : []),
            ...(missing > 0 ? [`${missing} of ${fanoutRounds * SUBSCRIBERS * MESSAGES} deliveries lost`] : []),
          ];
          const target = mode === "fire_and_forget" ? ` (target ≥ 1×: ${verdict(rate >= redisPub)})` : "";
          return [mode, `${fmtRate(rate)} against ${fmtRate(redisPub)}${notes.length > 0 ? ` (${notes.join("; ")})` : ""}`, `${ratio(rate, redisPub)}${target}`];
        }),
      ],
    );

    if (profileDir !== undefined) {
      for (const mode of ["fire_and_forget", "wait_all_acks"] as const) {
        await profiled(profileDir, `publish-${mode}`, subscribers, async () => {
          for (let i = 0; i < 2; i++) {
            const base = await received("pulsing");
            await pipelined(MESSAGES, IN_FLIGHT, () => topic.publish({ seq: i, data: DATA }, { mode }));
            await delivered("pulsing", base + SUBSCRIBERS * MESSAGES, mode === "fire_and_forget");
          }
        });
      }
    }
  } finally {
    redis?.disconnect();
    // The far processes go first, at once (a graceful stop would hand their buckets over: slow and beside the
    // point); gracefully only when profiling with --cpu-prof (the profile is written at exit).
    const graceful = process.execArgv.some((arg) => arg.startsWith("--cpu-prof"));
    for (const child of [subscriberHost, owner]) {
      if (child === undefined) continue;
      await (graceful ? child.stop(20_000) : child.kill()).catch(() => undefined);
    }
    await within(10_000, "shutting down the writer's node", system?.shutdown() ?? Promise.resolve()).catch((error: unknown) =>
      console.warn(`[bench] ${(error as Error).message}`),
    );
    await redisServer?.stop();
  }
}

function alive(system: pul.ActorSystem): number {
  return system.members().filter((m) => m.status === "alive").length;
}

/** Records/s from the first put() to flush() resolving (batches made before the clock starts). */
async function pulsingPut(writer: pul.QueueWriter, batch: Record_[]): Promise<number> {
  const slices: Record_[][] = [];
  for (let i = 0; i < batch.length; i += BATCH) slices.push(batch.slice(i, i + BATCH));
  const t = performance.now();
  for (const slice of slices) await writer.put(slice);
  await writer.flush();
  return batch.length / ((performance.now() - t) / 1000);
}

/** XADD of the same records, one stream per bucket (split before the clock starts), pipelines of 100 per stream in turn. */
async function redisPut(client: Redis, prefix: string, batch: Record_[]): Promise<number> {
  const streams: Record_[][] = Array.from({ length: NUM_BUCKETS }, () => []);
  for (const record of batch) streams[bucketOf(record.id, NUM_BUCKETS)]!.push(record);
  const t = performance.now();
  await Promise.all(
    streams.map(async (stream, bucketId) => {
      for (let i = 0; i < stream.length; i += BATCH) {
        const pipeline = client.pipeline();
        for (const r of stream.slice(i, i + BATCH)) pipeline.xadd(`${prefix}:${bucketId}`, "*", "id", r.id, "seq", String(r.seq), "data", r.data);
        const results = await pipeline.exec();
        const failed = results?.find(([error]) => error !== null);
        if (failed !== undefined) throw failed[0]!;
      }
    }),
  );
  return batch.length / ((performance.now() - t) / 1000);
}

/** Every record of the queue, each reader (one per bucket) from offset 0 in parallel, 100 at a time. */
async function pulsingRead(readers: pul.QueueReader[], total: number): Promise<number> {
  for (const reader of readers) reader.reset();
  const t = performance.now();
  const counts = await Promise.all(
    readers.map(async (reader) => {
      let count = 0;
      for (let calls = 0; calls <= total / BATCH + 1; calls++) {
        const got = await reader.get({ limit: BATCH });
        if (got.length === 0) break;
        count += got.length;
      }
      return count;
    }),
  );
  const read = counts.reduce((a, b) => a + b, 0);
  if (read !== total) throw new Error(`read ${read} of ${total} records`);
  return total / ((performance.now() - t) / 1000);
}

function toRecord(fields: string[]): Record_ {
  const record: Record<string, string | number> = {};
  for (let i = 0; i < fields.length; i += 2) record[fields[i]!] = fields[i + 1]!;
  record.seq = Number(record.seq);
  return record as Record_;
}

/** Every entry of the streams, 100 at a time per stream, in parallel: XRANGE (exclusive start) or XREAD. */
async function redisRead(client: Redis, prefix: string, total: number, how: "xrange" | "xread"): Promise<number> {
  const t = performance.now();
  const counts = await Promise.all(
    Array.from({ length: NUM_BUCKETS }, async (_, bucketId) => {
      const key = `${prefix}:${bucketId}`;
      let last = how === "xrange" ? "-" : "0-0";
      let count = 0;
      for (let calls = 0; calls <= total / BATCH + 1; calls++) {
        let entries: Array<[string, string[]]>;
        if (how === "xrange") entries = await client.xrange(key, last, "+", "COUNT", BATCH);
        else entries = ((await client.xread("COUNT", BATCH, "STREAMS", key, last)) ?? [])[0]?.[1] ?? [];
        if (entries.length === 0) break;
        for (const [, fields] of entries) toRecord(fields);
        count += entries.length;
        last = how === "xrange" ? `(${entries.at(-1)![0]}` : entries.at(-1)![0];
      }
      return count;
    }),
  );
  const read = counts.reduce((a, b) => a + b, 0);
  if (read !== total) throw new Error(`${how}: read ${read} of ${total} entries`);
  return total / ((performance.now() - t) / 1000);
}
