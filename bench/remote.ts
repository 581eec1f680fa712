/**
 * Remote calls between two Node processes over 127.0.0.1 (TCP + noise + yamux): typed-proxy asks (sequential
 * RTT, 256 in flight) and streamed replies, each next to two floors measured in the same run between the same
 * processes — the echo RPC on a raw libp2p stream of the same connection (floor 1: the stack without the actor
 * layer) and on a plain `node:net` socket (floor 2: loopback TCP without libp2p).
 */
import * as pul from "pulsing";
import type { EchoClient } from "./floors/echo-rpc.js";
import { openLibp2pFloor } from "./floors/libp2p-floor.js";
import { openNetFloor } from "./floors/net-floor.js";
import { fmtMs, fmtRate, latencies, measure, pipelined, table, within, type Rate } from "./harness.js";
import { startPeer, type PeerProcess } from "./peer-process.js";
import { BenchEcho, PAYLOAD } from "./remote-actors.js";

/** The whole group, child start-up and shutdown included, stays under 90 s. */
const GROUP_BUDGET_MS = 80_000;
/** No one measurement may take longer than this (a hung peer fails the group instead of hanging it). */
const PHASE_LIMIT_MS = 20_000;

/** Floors and asks are measured in turn this many times and the medians kept: the load drifts, ratios less. */
const PASSES = 3;
const SEQUENTIAL_OPS = 2_000;
const PIPELINED_OPS = 30_000;
const IN_FLIGHT = 256;
const STREAM_ITEMS = 100_000;

const TARGET_RTT_RATIO = 1.2;
const TARGET_ASKS_PER_SECOND = 150_000;
const TARGET_ITEMS_PER_SECOND = 500_000;

interface Latency {
  name: string;
  median: number;
  p99: number;
}

export async function benchRemote(): Promise<void> {
  const deadline = performance.now() + GROUP_BUDGET_MS;
  const phase = <T>(what: string, work: () => Promise<T>): Promise<T> => {
    const left = Math.min(PHASE_LIMIT_MS, deadline - performance.now());
    if (left <= 0) return Promise.reject(new Error(`remote group: out of time before ${what}`));
    return within(left, what, work());
  };

  let peer: PeerProcess | undefined;
  let system: pul.ActorSystem | undefined;
  const floors: EchoClient[] = [];
  try {
    peer = await phase("starting the peer process", () => startPeer());
    const seed = peer.addrs.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/") && !a.includes("/ws"));
    if (seed === undefined) throw new Error(`no loopback TCP address among ${peer.addrs.join(", ")}`);
    const caller = (system = await phase("joining the peer", () => pul.actorSystem({ addr: "127.0.0.1:0", seeds: [seed] })));
    const remoteNode = peer.nodeId;
    const echo = await phase("remote spawn", async () => (await caller.spawn(BenchEcho, { node: remoteNode })).asType(BenchEcho));
    const libp2pFloor = await phase("opening floor 1", () => openLibp2pFloor(caller.mesh!.node, remoteNode));
    floors.push(libp2pFloor);
    const netFloor = await phase("opening floor 2", () => openNetFloor(peer!.netPort));
    floors.push(netFloor);

    const rtt = (name: string, once: () => Promise<unknown>) => (): Promise<Latency> =>
      phase(name, async () => ({ name, ...(await latencies(SEQUENTIAL_OPS, once)) }));
    const rate = (name: string, ops: number, body: (ops: number) => Promise<void>, rounds = 3) => (): Promise<Rate> =>
      phase(name, () => measure(name, ops, body, rounds));
    const inFlight = (once: () => Promise<unknown>) => (ops: number) => pipelined(ops, IN_FLIGHT, once);
    const drain = (stream: (n: number) => AsyncIterable<number>) => async (n: number) => {
      let count = 0;
      for await (const _ of stream(n)) count++;
      if (count !== n) throw new Error(`stream delivered ${count} of ${n} items`);
    };

    const [netRtt, libp2pRtt, askRtt] = await inTurn([
      rtt("floor 2: node:net echo", () => netFloor.call(PAYLOAD)),
      rtt("floor 1: libp2p stream echo", () => libp2pFloor.call(PAYLOAD)),
      rtt("typed proxy ask", () => echo.echo(PAYLOAD)),
    ]).then((runs) => runs.map(medianLatency)) as [Latency, Latency, Latency];
    const [netPipe, libp2pPipe, askPipe] = await inTurn([
      rate("floor 2: node:net echo", PIPELINED_OPS, inFlight(() => netFloor.call(PAYLOAD))),
      rate("floor 1: libp2p stream echo", PIPELINED_OPS, inFlight(() => libp2pFloor.call(PAYLOAD))),
      rate("typed proxy ask", PIPELINED_OPS, inFlight(() => echo.echo(PAYLOAD))),
    ]).then((runs) => runs.map(medianRate)) as [Rate, Rate, Rate];

    const wide = echo.withOptions({ bufferSize: 256 });
    const stream32 = await rate("sync generator, default window (32, adaptive)", STREAM_ITEMS, drain((n) => echo.items(n)), 5)();
    const stream256 = await rate("sync generator, bufferSize 256", STREAM_ITEMS, drain((n) => wide.items(n)), 5)();
    // Last: an async generator turns on AsyncLocalStorage in the peer, which slows its every promise from then on.
    const streamAsync = await rate("async generator, bufferSize 256", STREAM_ITEMS, drain((n) => wide.itemsAsync(n)), 5)();

    const times = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
    // A consumer grants credit as it reads, so a stream moves at most about one window per round trip.
    const creditBound = (bufferSize: number): number => bufferSize / (askRtt.median / 1000);
    const percent = (a: number, b: number): string => `${((a / b) * 100).toFixed(0)} %`;
    const latencyRow = (r: Latency, note: string): [string, string, string] => [
      r.name,
      `${fmtMs(r.median)} (p99 ${fmtMs(r.p99)})`,
      note,
    ];
    const rateRow = (r: Rate, note: string): [string, string, string] => [r.name, fmtRate(r.perSecond), note];
    table(`remote: two processes over 127.0.0.1 (TCP + noise + yamux), ~100-byte payloads, medians of ${PASSES} passes`, [
      ["sequential round trip", "median (p99)", ""],
      latencyRow(netRtt, ""),
      latencyRow(libp2pRtt, `${times(libp2pRtt.median, netRtt.median)} floor 2`),
      latencyRow(askRtt, `${times(askRtt.median, libp2pRtt.median)} floor 1, ${times(askRtt.median, netRtt.median)} floor 2`),
      [`${IN_FLIGHT} in flight`, "calls/s", ""],
      rateRow(netPipe, ""),
      rateRow(libp2pPipe, `${percent(libp2pPipe.perSecond, netPipe.perSecond)} of floor 2`),
      rateRow(askPipe, `${percent(askPipe.perSecond, libp2pPipe.perSecond)} of floor 1, ${percent(askPipe.perSecond, netPipe.perSecond)} of floor 2`),
      ["streamed reply (small items)", "items/s", "(a window of credit per ask RTT would give)"],
      rateRow(stream32, `32 / RTT = ${fmtRate(creditBound(32))}; the window grows while the reader keeps up`),
      rateRow(stream256, `bufferSize / RTT = ${fmtRate(creditBound(256))}`),
      rateRow(streamAsync, `${percent(streamAsync.perSecond, stream256.perSecond)} of the sync generator`),
    ]);

    const verdict = (met: boolean): string => (met ? "met" : "MISSED");
    const rttRatio = askRtt.median / libp2pRtt.median;
    table("remote targets", [
      ["target", "reached", ""],
      [`ask RTT ≤ ${TARGET_RTT_RATIO}× floor 1 RTT`, `${rttRatio.toFixed(2)}×`, verdict(rttRatio <= TARGET_RTT_RATIO)],
      [
        `≥ ${fmtRate(TARGET_ASKS_PER_SECOND)} asks, ${IN_FLIGHT} in flight`,
        fmtRate(askPipe.perSecond),
        verdict(askPipe.perSecond >= TARGET_ASKS_PER_SECOND),
      ],
      [
        `≥ ${fmtRate(TARGET_ITEMS_PER_SECOND)} streamed items`,
        `${fmtRate(stream32.perSecond)} (default window), ${fmtRate(stream256.perSecond)} (bufferSize 256)`,
        stream32.perSecond >= TARGET_ITEMS_PER_SECOND
          ? "met"
          : stream256.perSecond >= TARGET_ITEMS_PER_SECOND
            ? "met with bufferSize 256 only"
            : "MISSED",
      ],
    ]);
  } finally {
    for (const floor of floors) floor.close();
    await within(5_000, "shutting down the caller", system?.shutdown() ?? Promise.resolve()).catch((error: unknown) =>
      console.warn(`[bench] ${(error as Error).message}`),
    );
    await peer?.stop();
  }
}

/** Runs every measurement once per pass, in turn; returns each one's results. */
async function inTurn<T>(runs: Array<() => Promise<T>>): Promise<T[][]> {
  const results: T[][] = runs.map(() => []);
  for (let pass = 0; pass < PASSES; pass++) {
    for (const [i, run] of runs.entries()) results[i]!.push(await run());
  }
  return results;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function medianLatency(runs: Latency[]): Latency {
  return { name: runs[0]!.name, median: median(runs.map((r) => r.median)), p99: median(runs.map((r) => r.p99)) };
}

function medianRate(runs: Rate[]): Rate {
  return { name: runs[0]!.name, perSecond: median(runs.map((r) => r.perSecond)) };
}
