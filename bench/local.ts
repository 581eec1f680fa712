/**
 * Local asks: the typed proxy (sequential and pipelined) and `ActorRef.ask`, against a minimal in-process
 * mailbox (queue + microtask drain + promise per ask) measured in the same run.
 */
import * as pul from "pulsing";
import { fmtRate, measure, pipelined, table } from "./harness.js";

class Counter {
  value = 0;
  incr(): number {
    return ++this.value;
  }
  async incrAsync(): Promise<number> {
    return ++this.value;
  }
  receive(): number {
    return ++this.value;
  }
}

const RESOLVED = Promise.resolve();

/** The floor: the least an in-process mailbox can do per ask (scheduled the cheapest way, as the runtime is). */
class MailboxFloor {
  #queue: Array<(value: number) => void> = [];
  #scheduled = false;
  #value = 0;
  readonly #drain = (): void => {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    for (const resolve of queue) resolve(++this.#value);
  };
  ask(): Promise<number> {
    return new Promise((resolve) => {
      this.#queue.push(resolve);
      if (!this.#scheduled) {
        this.#scheduled = true;
        void RESOLVED.then(this.#drain);
      }
    });
  }
}

export async function benchLocal(): Promise<void> {
  const system = await pul.actorSystem();
  const ref = await system.spawn(Counter);
  const counter = ref.asType(Counter);
  const floor = new MailboxFloor();
  const N = 300_000;

  const seq = async (once: () => Promise<unknown>) => async (ops: number) => {
    for (let i = 0; i < ops; i++) await once();
  };
  const pipe = (once: () => Promise<unknown>) => (ops: number) => pipelined(ops, 256, once);

  const floorSeq = await measure("floor, sequential", N, await seq(() => floor.ask()));
  const proxySeq = await measure("typed proxy, sequential", N, await seq(() => counter.incr()));
  const refSeq = await measure("ActorRef.ask, sequential", N, await seq(() => ref.ask(null)));
  const floorPipe = await measure("floor, 256 in flight", N, pipe(() => floor.ask()));
  const proxyPipe = await measure("typed proxy, 256 in flight", N, pipe(() => counter.incr()));
  // Last: the first async method call enables AsyncLocalStorage (for currentContext() across awaits), whose
  // promise hooks slow every promise in a Node 20 process from then on.
  const asyncSeq = await measure("typed proxy, async method", N, await seq(() => counter.incrAsync()));

  const row = (r: { name: string; perSecond: number }, base: { perSecond: number }): [string, string, string] => [
    r.name,
    fmtRate(r.perSecond),
    `${((r.perSecond / base.perSecond) * 100).toFixed(0)} % of floor`,
  ];
  table("local asks (one process)", [
    row(floorSeq, floorSeq),
    row(proxySeq, floorSeq),
    row(refSeq, floorSeq),
    row(floorPipe, floorPipe),
    row(proxyPipe, floorPipe),
    row(asyncSeq, floorSeq),
  ]);
  console.log(
    `  target: ≥ 1,000,000 sequential proxied asks/s and ≥ 30 % of the floor → ${fmtRate(proxySeq.perSecond)}, ` +
      `${((proxySeq.perSecond / floorSeq.perSecond) * 100).toFixed(0)} %`,
  );
  await system.shutdown();
}
