import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { eventually, sleep } from "./helpers.js";

const events: string[] = [];

@pul.remote({ restartPolicy: "on_failure", maxRestarts: 2, minBackoff: 5, maxBackoff: 20 })
class Fragile {
  static built = 0;
  value: number;
  constructor(start = 0) {
    this.value = start;
    Fragile.built++;
  }
  onStart(): void {
    events.push(`start:${this.value}`);
  }
  onStop(): void {
    events.push(`stop:${this.value}`);
  }
  incr(): number {
    return ++this.value;
  }
  crash(recoverable = true): never {
    throw new pul.PulsingSystemError("crashed", recoverable);
  }
  async slowCrash(): Promise<never> {
    await sleep(5);
    throw new pul.PulsingSystemError("crashed later");
  }
  plainError(): never {
    throw new Error("only this call fails");
  }
}

class Lifecycle {
  static log: string[] = [];
  async onStart(ctx: pul.ActorContext): Promise<void> {
    await sleep(5);
    Lifecycle.log.push(`onStart:${ctx.actorId.localId > 0}`);
  }
  onStop(): void {
    Lifecycle.log.push("onStop");
  }
  hello(): string {
    return "hello";
  }
  quit(): string {
    pul.currentContext().stop();
    return "bye";
  }
}

class BadStart {
  onStart(): void {
    throw new Error("cannot start");
  }
  hello(): string {
    return "never";
  }
}

describe("supervision and lifecycle", () => {
  let system: pul.ActorSystem;
  before(async () => {
    system = await pul.actorSystem();
  });
  after(() => system.shutdown());

  it("runs onStart before the first message and onStop on stop", async () => {
    Lifecycle.log = [];
    const ref = await system.spawn(Lifecycle, { name: "life" });
    assert.deepEqual(Lifecycle.log, ["onStart:true"]);
    assert.equal(await ref.asType(Lifecycle).hello(), "hello");
    await system.stop("life");
    assert.deepEqual(Lifecycle.log, ["onStart:true", "onStop"]);
    assert.equal(await system.hasActor("life"), false);
    await assert.rejects(ref.asType(Lifecycle).hello(), (e: unknown) => e instanceof pul.PulsingRuntimeError && /stopped/.test(e.message));
  });

  it("ctx.stop() stops the actor after the current message", async () => {
    Lifecycle.log = [];
    const proxy = (await system.spawn(Lifecycle, { name: "quitter" })).asType(Lifecycle);
    const [bye, next] = await Promise.allSettled([proxy.quit(), proxy.hello()]);
    assert.deepEqual(bye, { status: "fulfilled", value: "bye" });
    assert.equal(next.status, "rejected");
    assert.ok((next as PromiseRejectedResult).reason instanceof pul.PulsingRuntimeError, "(next as PromiseRejectedResult).reason instanceof pul.PulsingRuntimeError");
    await eventually(async () => assert.equal(await system.hasActor("quitter"), false));
    assert.ok(Lifecycle.log.includes("onStop"), "Lifecycle.log.includes(\"onStop\")");
  });

  it("an ordinary error fails only the call", async () => {
    const f = (await system.spawn(Fragile, { args: [10] })).asType(Fragile);
    await assert.rejects(f.plainError(), pul.PulsingActorError);
    assert.equal(await f.incr(), 11);
  });

  it("restarts on PulsingSystemError under the same ref, from the constructor args", async () => {
    events.length = 0;
    const ref = await system.spawn(Fragile, { name: "fragile", args: [100] });
    const f = ref.asType(Fragile);
    assert.equal(await f.incr(), 101);
    await assert.rejects(f.crash(), (e: unknown) => e instanceof pul.PulsingSystemError && e.recoverable);
    // The next call waits in the mailbox through the restart and reaches the rebuilt instance.
    assert.equal(await f.incr(), 101);
    assert.deepEqual(events, ["start:100", "stop:101", "start:100"]);
    const again = await system.resolve("fragile");
    assert.equal(String(again.actorId), String(ref.actorId));
  });

  it("keeps queued messages through a restart", async () => {
    const f = (await system.spawn(Fragile, { args: [0] })).asType(Fragile);
    const crash = f.slowCrash();
    const queued = [f.incr(), f.incr(), f.incr()];
    await assert.rejects(crash, pul.PulsingSystemError);
    // incr calls ran while slowCrash was awaiting (interleaving), so they saw the first instance;
    // calls sent after the crash see the rebuilt one.
    assert.deepEqual(await Promise.all(queued), [1, 2, 3]);
    await eventually(async () => assert.equal(await f.incr(), 1));
  });

  it("stops after maxRestarts, then calls fail with PulsingRuntimeError", async () => {
    const f = (await system.spawn(Fragile, { name: "tired" })).asType(Fragile);
    for (let i = 0; i < 3; i++) await assert.rejects(f.crash(), pul.PulsingSystemError);
    await eventually(async () => assert.equal(await system.hasActor("tired"), false));
    await assert.rejects(f.incr(), pul.PulsingRuntimeError);
  });

  it("a non-recoverable PulsingSystemError stops the actor whatever the policy", async () => {
    const f = (await system.spawn(Fragile, { name: "fatal" })).asType(Fragile);
    await assert.rejects(f.crash(false), pul.PulsingSystemError);
    await eventually(async () => assert.equal(await system.hasActor("fatal"), false));
  });

  it("restartPolicy never stops the actor on failure", async () => {
    const f = (await system.spawn(Fragile, { name: "never", restartPolicy: "never" })).asType(Fragile);
    await assert.rejects(f.crash(), pul.PulsingSystemError);
    await eventually(async () => assert.equal(await system.hasActor("never"), false));
  });

  it("a failing tell is a failure and triggers a restart", async () => {
    class Teller {
      n = 0;
      receive(msg: string): number {
        if (msg === "fail") throw new Error("told to fail");
        return ++this.n;
      }
    }
    const ref = await system.spawn(() => new Teller(), { restartPolicy: "on_failure", minBackoff: 1 });
    assert.equal(await ref.ask("x"), 1);
    assert.equal(await ref.ask("x"), 2);
    await ref.tell("fail");
    await eventually(async () => assert.equal(await ref.ask("x"), 1));
  });

  it("backs off exponentially between restarts", async () => {
    class Crasher {
      static starts: number[] = [];
      onStart(): void {
        Crasher.starts.push(Date.now());
      }
      crash(): never {
        throw new pul.PulsingSystemError("again");
      }
    }
    const ref = await system.spawn(Crasher, { restartPolicy: "on_failure", maxRestarts: 3, minBackoff: 30, maxBackoff: 60 });
    const c = ref.asType(Crasher);
    for (let i = 0; i < 3; i++) {
      const before = Crasher.starts.length;
      await assert.rejects(c.crash());
      await eventually(() => assert.equal(Crasher.starts.length, before + 1), 2_000, 2);
    }
    const gaps = Crasher.starts.slice(1).map((t, i) => t - Crasher.starts[i]!);
    assert.ok(gaps[0]! >= 29, `first backoff ${gaps[0]}ms < 30ms`);
    assert.ok(gaps[1]! >= 59, `second backoff ${gaps[1]}ms < 60ms`);
    assert.ok(gaps[2]! >= 59 && gaps[2]! < 1_000, `third backoff ${gaps[2]}ms should be capped at 60ms`);
  });

  it("always restarts an actor that stopped itself, but not one stopped by system.stop()", async () => {
    class SelfStopper {
      static starts = 0;
      onStart(): void {
        SelfStopper.starts++;
      }
      quit(): string {
        pul.currentContext().stop();
        return "quitting";
      }
      ping(): string {
        return "pong";
      }
    }
    // Backoff capped at 1 ms: a restart is a timer of 1 ms, so any restart would run before a later, longer timer.
    const ref = await system.spawn(SelfStopper, { name: "phoenix", restartPolicy: "always", minBackoff: 1, maxBackoff: 1 });
    const p = ref.asType(SelfStopper);
    assert.equal(await p.quit(), "quitting");
    assert.equal(await p.ping(), "pong");
    assert.equal(SelfStopper.starts, 2);
    await system.stop("phoenix");
    assert.equal(await system.hasActor("phoenix"), false);
    // Timers fire in order of expiry: this one (scheduled after any restart timer, and 50× as long) fires after it.
    await sleep(50);
    assert.equal(SelfStopper.starts, 2, "no restart after system.stop()");
    assert.equal(await system.hasActor("phoenix"), false, "the name stays free after system.stop()");
  });

  it("spawn rejects when onStart fails and no restart will follow", async () => {
    await assert.rejects(system.spawn(BadStart, { name: "bad-start" }), (e: unknown) => e instanceof pul.PulsingActorError && /cannot start/.test(e.message));
    assert.equal(await system.hasActor("bad-start"), false);
  });

  it("spawn rejects with the constructor's error", async () => {
    class Throws {
      constructor() {
        throw new Error("no way");
      }
    }
    await assert.rejects(system.spawn(Throws), (e: unknown) => e instanceof pul.PulsingActorError && /no way/.test(e.message));
  });

  it("refuses restart policies for actors spawned from an instance", async () => {
    await assert.rejects(system.spawn({ hi: () => 1 }, { restartPolicy: "always" }), /cannot be rebuilt/);
  });

  it("the context signal aborts when the actor stops", async () => {
    let aborted = false;
    class Waiter {
      async wait(): Promise<void> {
        const signal = pul.currentContext().signal;
        await new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
        aborted = true;
      }
    }
    const ref = await system.spawn(Waiter, { name: "waiter" });
    void ref.asType(Waiter).wait().catch(() => undefined);
    await sleep(5);
    await system.stop("waiter");
    await eventually(() => assert.equal(aborted, true));
  });
});
