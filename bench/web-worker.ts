/**
 * A tab's call into an actor on one of its Web Worker nodes (`spawnWorkers` of the browser `pulsing/node`: a
 * worker joined over a MessagePort, noise + yamux on top) against its floor measured in the same tab: a plain
 * `postMessage` round trip to a Web Worker that echoes. Sequential latency and 256 in flight, in Debian's Chromium.
 *
 *   npm run bench -- web-worker     (goes through `node e2e/run.mjs --bench=web-worker`, which builds first)
 */
import { fileURLToPath } from "node:url";
import { hostDemoActors } from "../examples/demo-actors.js";
import { startSeed } from "../src/node/index.js";
import { launchChromium, openTab } from "../e2e/harness.js";
import { fmtMs, fmtRate, table, within } from "./harness.js";

const DASHBOARD = fileURLToPath(new URL("../dist/demo", import.meta.url));
const N = 5_000;
const IN_FLIGHT = 256;
const ROUNDS = 5;

type Result = { mean: number; p99: number; perSecond: number };

const seed = await startSeed({ addr: "127.0.0.1:0", dashboard: { root: DASHBOARD, port: 0, host: "127.0.0.1" } });
await hostDemoActors(seed.system);
const browser = await launchChromium();
try {
  const tab = await openTab(browser, seed.url!);
  const results = await within(
    180_000,
    "the Web Worker benchmark in the tab",
    tab.page.evaluate(
      async ({ n, inFlight, rounds }) => {
        const g = globalThis as unknown as {
          system: { resolve(name: string, o: { timeout: number }): Promise<{ asAny(): { echo(v: unknown): Promise<unknown> } }> };
          dashboard: { workers: { start(): Promise<{ nodeId: string; name: string }> } };
        };
        const { name } = await g.dashboard.workers.start();
        const cruncher = (await g.system.resolve(name, { timeout: 15_000 })).asAny();
        // The floor: a Web Worker that posts back what it gets.
        const echoUrl = URL.createObjectURL(new Blob(["onmessage = (e) => postMessage(e.data);"], { type: "text/javascript" }));
        const echoWorker = new Worker(echoUrl);
        const pending = new Map<number, (v: unknown) => void>();
        echoWorker.onmessage = (e: MessageEvent<[number, unknown]>) => {
          const [id, value] = e.data;
          pending.get(id)?.(value);
          pending.delete(id);
        };
        let next = 0;
        const floor = (value: unknown) =>
          new Promise<unknown>((resolve) => {
            const id = next++;
            pending.set(id, resolve);
            echoWorker.postMessage([id, value]);
          });
        const payload = "x".repeat(100); // as the other benches: a 100-byte argument
        const measure = async (once: () => Promise<unknown>) => {
          for (let i = 0; i < 200; i++) await once(); // warm-up
          // A page's clock ticks in 100 µs steps (no cross-origin isolation): the sequential figure is a mean over
          // all n calls, timed together; p99 comes from the per-call samples.
          const samples = new Float64Array(n);
          const began = performance.now();
          for (let i = 0; i < n; i++) {
            const t = performance.now();
            await once();
            samples[i] = performance.now() - t;
          }
          const mean = (performance.now() - began) / n;
          samples.sort();
          const rates: number[] = [];
          for (let r = 0; r < rounds; r++) {
            let started = 0;
            const lane = async () => {
              while (started < n) {
                started++;
                await once();
              }
            };
            const t = performance.now();
            await Promise.all(Array.from({ length: inFlight }, lane));
            rates.push(n / ((performance.now() - t) / 1000));
          }
          rates.sort((a, b) => a - b);
          return { mean, p99: samples[Math.floor(n * 0.99)]!, perSecond: rates[Math.floor(rounds / 2)]! };
        };
        const floorResult = await measure(() => floor(payload));
        const callResult = await measure(() => cruncher.echo(payload));
        echoWorker.terminate();
        return { floor: floorResult, call: callResult };
      },
      { n: N, inFlight: IN_FLIGHT, rounds: ROUNDS },
    ),
  );
  const { floor, call } = results as { floor: Result; call: Result };
  table("Web Workers (one Chromium tab, page thread → its Web Worker node)", [
    ["postMessage round trip, sequential", `mean ${fmtMs(floor.mean)}, p99 ${fmtMs(floor.p99)}`, "floor"],
    ["call into a Web Worker actor, sequential", `mean ${fmtMs(call.mean)}, p99 ${fmtMs(call.p99)}`, `${(call.mean / floor.mean).toFixed(1)}× the floor's mean`],
    [`postMessage round trip, ${IN_FLIGHT} in flight`, fmtRate(floor.perSecond), "floor"],
    [`call into a Web Worker actor, ${IN_FLIGHT} in flight`, fmtRate(call.perSecond), `${((call.perSecond / floor.perSecond) * 100).toFixed(0)} % of floor`],
  ]);
} finally {
  await browser.close();
  await seed.stop();
}
