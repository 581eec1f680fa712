/**
 * A call into a worker thread (`spawnWorkers`: the worker is a node of the parent's cluster, joined over a
 * MessagePort with noise + yamux on top) against its floor, a plain `postMessage` round trip to a worker thread
 * that echoes, measured in the same run: sequential latency and 256 in flight.
 */
import { Worker } from "node:worker_threads";
import * as pul from "pulsing";
import { spawnWorkers } from "pulsing/node";
import { Cruncher } from "../test/fixtures/worker-classes.js";
import { fmtMs, fmtRate, latencies, measure, pipelined, table, within } from "./harness.js";

/** The floor's worker: answers each `[id, payload]` with the same message. */
const ECHO = `const { parentPort } = require("node:worker_threads"); parentPort.on("message", (m) => parentPort.postMessage(m));`;

class EchoFloor {
  readonly worker = new Worker(ECHO, { eval: true });
  readonly #pending = new Map<number, (value: unknown) => void>();
  #next = 0;
  constructor() {
    this.worker.on("message", ([id, payload]: [number, unknown]) => {
      const resolve = this.#pending.get(id);
      this.#pending.delete(id);
      resolve?.(payload);
    });
  }
  call(payload: unknown): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.worker.postMessage([id, payload]);
    });
  }
}

export async function benchWorker(): Promise<void> {
  const parent = await pul.actorSystem({ addr: "127.0.0.1:0" });
  const floor = new EchoFloor();
  try {
    const [worker] = await within(60_000, "starting a worker node", spawnWorkers(1, new URL("../test/fixtures/worker-node.mjs", import.meta.url), { system: parent }));
    const cruncher = (await parent.spawn(Cruncher, { node: worker!.nodeId })).asType(Cruncher);
    const payload = "x".repeat(100); // as the other benches: a 100-byte argument
    const N = 20_000;

    const floorLat = await latencies(N, () => floor.call(payload));
    const callLat = await latencies(N, () => cruncher.echo(payload));
    const floorPipe = await measure("postMessage round trip, 256 in flight", N, (ops) => pipelined(ops, 256, () => floor.call(payload)));
    const callPipe = await measure("call into a worker actor, 256 in flight", N, (ops) => pipelined(ops, 256, () => cruncher.echo(payload)));

    table("worker threads (one process, parent main thread → worker thread)", [
      ["postMessage round trip, sequential", `median ${fmtMs(floorLat.median)}, p99 ${fmtMs(floorLat.p99)}`, "floor"],
      [
        "call into a worker actor, sequential",
        `median ${fmtMs(callLat.median)}, p99 ${fmtMs(callLat.p99)}`,
        `${(callLat.median / floorLat.median).toFixed(1)}× the floor's median`,
      ],
      [floorPipe.name, fmtRate(floorPipe.perSecond), "floor"],
      [callPipe.name, fmtRate(callPipe.perSecond), `${((callPipe.perSecond / floorPipe.perSecond) * 100).toFixed(0)} % of floor`],
    ]);
    await worker!.terminate();
  } finally {
    await floor.worker.terminate();
    await parent.shutdown();
  }
}
