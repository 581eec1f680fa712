/**
 * Web Workers as nodes (issue 13): a tab starts a worker node from the dashboard's Web Workers card (`spawnWorkers`
 * of the browser build of `pulsing/node`), which spawns a `Cruncher` into it. Another tab and the Node seed resolve
 * that actor by name and call it — it runs on the worker's thread, in the first tab's browser. Terminating the
 * worker makes the cluster declare its node dead, and calls to it fail with a typed error, not a hang.
 */
import assert from "node:assert/strict";
import type * as pul from "pulsing";
import type * as pulNode from "../src/browser/index.js";
import { eventually } from "../test/helpers.js";
import { test } from "./fixtures.js";

type PageGlobals = {
  pul: typeof pul;
  pulNode: typeof pulNode;
  system: pul.ActorSystem;
  dashboard: { workers: { start(): Promise<{ nodeId: string; name: string }> } };
};

/** Primes below 1,000,000. */
const PRIMES_BELOW_1M = 78_498;
/** Failure detection (3 s on loopback), with slack for a loaded machine running a browser. */
const DETECTION_BOUND_MS = 8_000;

test.use({ tabCount: 2 });

test.describe("Web Workers as nodes", () => {
  test.describe.configure({ mode: "serial" });

  let worker: { nodeId: string; name: string };

  test("a tab starts a worker node from the dashboard; it joins the cluster", async ({ tabs, seed }) => {
    const [a] = tabs;
    await a!.page.click("#worker-start");
    const row = a!.page.locator("#worker-list li[data-worker-node]");
    await row.first().waitFor({ timeout: 30_000 });
    const nodeId = await row.first().getAttribute("data-worker-node");
    const name = await row.first().locator("code.worker-actor").textContent();
    assert.ok(nodeId !== null && name !== null);
    worker = { nodeId, name };
    assert.notEqual(nodeId, a!.nodeId, "the worker is a node of its own");
    // Every member sees it alive, a browser-runtime node; its addresses go through a relay (it has no socket).
    await eventually(() => {
      const member = seed.system.members().find((m) => m.nodeId === nodeId);
      assert.equal(member?.status, "alive");
      assert.equal(member?.runtime, "browser");
      assert.ok(member.addrs.length > 0 && member.addrs.every((addr) => addr.includes("/p2p-circuit")), JSON.stringify(member.addrs));
    }, 15_000);
  });

  test("another tab calls the worker's actor by name; it runs in the worker", async ({ tabs }) => {
    const [, b] = tabs;
    const answer = await b!.page.evaluate(async ({ name }) => {
      const { system } = globalThis as unknown as PageGlobals;
      const cruncher = (await system.resolve(name, { timeout: 15_000 })).asAny();
      (globalThis as Record<string, unknown>).workerCruncher = cruncher; // called again once the worker is gone
      const where = await cruncher.where();
      const counted = await cruncher.countPrimes(1_000_000);
      const carrier = system.connections().find((c) => c.nodeId === where.nodeId && c.carriesCalls);
      return { where, primes: counted.primes, carrier: carrier === undefined ? null : { relayed: carrier.relayed, transport: carrier.transport } };
    }, worker);
    assert.deepEqual(answer.where, { nodeId: worker.nodeId, inWebWorker: true });
    assert.equal(answer.primes, PRIMES_BELOW_1M);
    // A Web Worker has no WebRTC: the other tab reaches it through a seed's relay.
    assert.equal(answer.carrier?.relayed, true, JSON.stringify(answer.carrier));
  });

  test("the Node seed calls it too; a class the worker lacks is refused", async ({ tabs, seed }) => {
    const cruncher = (await seed.system.resolve(worker.name, { timeout: 15_000 })).asAny() as unknown as {
      countPrimes(limit: number): Promise<{ primes: number }>;
      where(): Promise<{ nodeId: string; inWebWorker: boolean }>;
    };
    assert.equal((await cruncher.countPrimes(1_000_000)).primes, PRIMES_BELOW_1M);
    assert.deepEqual(await cruncher.where(), { nodeId: worker.nodeId, inWebWorker: true });
    // (The cruncher itself was spawned into the worker by its parent tab, by class: the dashboard's `Cruncher.spawn`.)
    // A class the worker's module did not register is refused by the worker, with a typed error.
    const refused = await tabs[0]!.page.evaluate(async ({ nodeId }) => {
      const { pul } = globalThis as unknown as PageGlobals;
      const Unknown = pul.remote({ name: "e2e/NotInTheWorker" })(class NotInTheWorker {});
      try {
        await pul.spawn(Unknown, { node: nodeId });
        return "spawned";
      } catch (error) {
        return String((error as { code?: string }).code);
      }
    }, worker);
    assert.equal(refused, "CLASS_NOT_REGISTERED");
  });

  test("misuse gets typed errors: a worker module that cannot load, initInsideWorker outside a worker", async ({ tabs }) => {
    const codes = await tabs[0]!.page.evaluate(async () => {
      const { pulNode } = globalThis as unknown as PageGlobals;
      const codeOf = async (promise: Promise<unknown>) => {
        try {
          await promise;
          return "resolved";
        } catch (error) {
          return `${(error as { code?: string }).code}: ${(error as Error).message}`;
        }
      };
      return {
        missing: await codeOf(pulNode.spawnWorkers(1, "/no-such-worker.js", { timeout: 15_000 })),
        notWorker: await codeOf(pulNode.initInsideWorker()),
        badCount: await codeOf(pulNode.spawnWorkers(-1, "/no-such-worker.js")),
      };
    });
    assert.match(codes.missing, /^INVALID_STATE: spawnWorkers\(\): a worker failed before joining/);
    assert.match(codes.notWorker, /^INVALID_OPTION: initInsideWorker\(\): not in a dedicated Web Worker/);
    assert.match(codes.badCount, /^INVALID_OPTION: spawnWorkers\(\): 'n' must be a whole number/);
  });

  test("a terminated worker is declared dead, and calls to it fail with a typed error", async ({ tabs, seed }) => {
    const [a, b] = tabs;
    const terminated = Date.now();
    await a!.page.locator(`#worker-list li[data-worker-node="${worker.nodeId}"] button`, { hasText: "Terminate" }).click();
    await a!.page.locator(`#worker-list li[data-worker-node="${worker.nodeId}"]`).waitFor({ state: "detached", timeout: 10_000 });
    await eventually(() => assert.equal(seed.system.members().find((m) => m.nodeId === worker.nodeId)?.status, "dead"), DETECTION_BOUND_MS);
    const detectedMs = Date.now() - terminated;
    console.log(`the seed saw the terminated Web Worker node dead after ${detectedMs} ms`);
    await b!.page.waitForFunction(
      (nodeId) => (globalThis as unknown as PageGlobals).system.members().find((m) => m.nodeId === nodeId)?.status === "dead",
      worker.nodeId,
      { timeout: DETECTION_BOUND_MS },
    );
    // The other tab's proxy from before: its call fails at once with a typed error.
    const failure = await b!.page.evaluate(async () => {
      const cruncher = (globalThis as unknown as { workerCruncher: { where(): Promise<unknown> } }).workerCruncher;
      const started = Date.now();
      try {
        await cruncher.where();
        return { code: "answered", ms: Date.now() - started };
      } catch (error) {
        return { code: String((error as { code?: string }).code), ms: Date.now() - started, message: (error as Error).message };
      }
    });
    console.log("a call to the terminated worker:", JSON.stringify(failure));
    assert.ok(["NODE_DEAD", "CONNECTION_LOST"].includes(failure.code), JSON.stringify(failure));
    assert.ok(failure.ms < 3_000, JSON.stringify(failure));
  });
});
