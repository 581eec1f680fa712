/**
 * The quick start from the README, runnable: `node --conditions=pulsing-source --import tsx examples/quickstart.ts`.
 */
import * as pul from "pulsing";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The decorator form: standard TC39 decorators, no experimentalDecorators.
@pul.remote({ restartPolicy: "on_failure", maxRestarts: 3 })
class Counter {
  value: number;
  constructor(init = 0) {
    this.value = init;
  }
  incr(): number {
    return ++this.value; // sync: runs to completion before the next message
  }
  async fetchAndAdd(n: number): Promise<number> {
    await sleep(10); // async: other messages may run here
    return (this.value += n);
  }
  async *count(to: number): AsyncGenerator<number> {
    for (let i = 1; i <= to; i++) yield i; // streaming, with backpressure
  }
}

// The function form types the statics, as in Pulsing's `Counter.spawn(...)`.
const Greeter = pul.remote(
  class Greeter {
    greet(name: string): string {
      return `hello, ${name}`;
    }
  },
);

await pul.init();

const counter = await pul.spawn(Counter, { name: "counter", args: [10] });
console.log("incr        →", await counter.incr());
console.log("fetchAndAdd →", await counter.fetchAndAdd(5));
const counted: number[] = [];
for await (const n of counter.count(3)) counted.push(n);
console.log("count(3)    →", counted.join(" "));

const again = await pul.resolve("counter", { cls: Counter, timeout: 1_000 });
console.log("resolved    →", await again.incr());

const greeter = await Greeter.spawn({ name: "greeter" });
console.log("greet       →", await greeter.greet("world"));

try {
  await (await pul.resolve("counter")).decrement();
} catch (error) {
  console.log("unknown     →", (error as Error).name, (error as Error).message);
}

const system = await pul.getSystemActor();
console.log("actors      →", (await system.listActors()).map((a) => a.name ?? a.actorId).join(", "));

await pul.shutdown();
