/**
 * Timeouts that do not count time the event loop lost (src/util/deadline.ts): admission's, on a node too busy to
 * run its timers on time (a peer's answer may be waiting unread when a plain timeout fires).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { lagTolerantSignal, lagTolerantTimeout } from "../src/util/deadline.js";

const block = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // the event loop is blocked: timers fire late
  }
};

describe("lagTolerantTimeout", () => {
  // Its timers do not hold the process open (as AbortSignal.timeout's do not): this one does, while the tests wait.
  let keepAlive: ReturnType<typeof setInterval>;
  before(() => void (keepAlive = setInterval(() => {}, 1_000)));
  after(() => clearInterval(keepAlive));

  it("gives back the time the event loop was blocked, up to maxMs in all", async () => {
    const start = performance.now();
    const fired = new Promise<number>((resolve) => lagTolerantTimeout(() => resolve(performance.now() - start), 200, 800));
    block(600); // a plain 200 ms timeout would fire at ~600 ms, with 400 ms of the node's own time lost
    const at = await fired;
    assert.ok(at >= 790, `fired after ${at.toFixed(0)} ms: the blocked time counted`);
  });

  it("fires on time when the loop is not blocked, and not at all once cancelled", async () => {
    const start = performance.now();
    let cancelledFired = false;
    const cancel = lagTolerantTimeout(() => void (cancelledFired = true), 50);
    cancel();
    const at = await new Promise<number>((resolve) => lagTolerantTimeout(() => resolve(performance.now() - start), 100));
    assert.ok(at >= 99, `fired after ${at.toFixed(0)} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(cancelledFired, false);
  });

  it("as a signal: aborts with a TimeoutError", async () => {
    const signal = lagTolerantSignal(20);
    await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
    assert.equal((signal.reason as DOMException).name, "TimeoutError");
  });
});
