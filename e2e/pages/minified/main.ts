/**
 * A page as a user writes it, built by Vite's default production build (minified: class names dropped): actor
 * classes given to `pul.remote(class … { })` must load and work; only a spawn on another node needs a name.
 */
import * as pul from "pulsing";

const TabCounter = pul.remote(
  class TabCounter {
    n = 0;
    incr(): number {
      return ++this.n;
    }
    async *count(to: number): AsyncGenerator<number> {
      for (let i = 1; i <= to; i++) yield i;
    }
  },
);

const Greeter = pul.remote(
  class Greeter {
    greet(name: string): string {
      return `hello, ${name}`;
    }
  },
);

async function run(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { classNames: [TabCounter.name, Greeter.name] };
  await pul.init();
  const counter = await TabCounter.spawn({ name: "counter" });
  out.incr = [await counter.incr(), await counter.incr()];
  const items: number[] = [];
  for await (const n of counter.count(3)) items.push(n);
  out.items = items;
  out.resolved = await (await TabCounter.resolve("counter")).incr();
  out.greeting = await (await Greeter.spawn()).greet("tab");
  try {
    await TabCounter.spawn({ node: "12D3KooWMhn1ffPgNNAhJqL1fqShhx1s8RrvFJjgnNdf2Nnq9xLL" });
    out.remoteSpawn = "succeeded";
  } catch (error) {
    out.remoteSpawn = { code: (error as { code?: string }).code, message: (error as Error).message };
  }
  await pul.shutdown();
  return out;
}

const page = globalThis as unknown as { result?: unknown };
run().then(
  (out) => (page.result = out),
  (error: unknown) => (page.result = { error: `${(error as Error).name}: ${(error as Error).message}` }),
);
