import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { afterEach, describe, it } from "node:test";
import * as pul from "pulsing";
import { eventually, hasCode, sleep } from "./helpers.js";


describe("global API and lifecycle", () => {
  afterEach(() => pul.shutdown());

  it("getSystem() throws and spawn/resolve reject before init()", async () => {
    await pul.shutdown();
    assert.equal(pul.isInitialized(), false);
    assert.throws(() => pul.getSystem(), hasCode("NOT_INITIALIZED", /not initialized.*init\(\)/));
    class A {}
    await assert.rejects(pul.spawn(A), hasCode("NOT_INITIALIZED", /not initialized/));
    await assert.rejects(pul.resolve("x"), hasCode("NOT_INITIALIZED", /not initialized/));
  });

  it("init() is idempotent and shutdown() is too", async () => {
    const a = await pul.init();
    const b = await pul.init();
    assert.equal(a, b);
    assert.equal(pul.getSystem(), a);
    assert.equal(pul.isInitialized(), true);
    assert.match(a.nodeId, /^12D3KooW/);
    assert.deepEqual(a.addrs, []);
    await pul.shutdown();
    await pul.shutdown();
    assert.equal(pul.isInitialized(), false);
  });

  it("concurrent init() calls share one system", async () => {
    const [a, b] = await Promise.all([pul.init(), pul.init()]);
    assert.equal(a, b);
  });

  it("standalone init() starts in milliseconds", async () => {
    await pul.init(); // warm the module imports
    await pul.shutdown();
    const t = performance.now();
    await pul.init();
    assert.ok(performance.now() - t < 200, "standalone init took too long");
  });

  it("actorSystem() makes an independent system; await using shuts it down", async () => {
    const global = await pul.init();
    let inner: pul.ActorSystem | undefined;
    {
      await using system = await pul.actorSystem();
      inner = system;
      assert.notEqual(system, global);
      assert.notEqual(system.nodeId, global.nodeId);
      class A {
        hi(): string {
          return "hi";
        }
      }
      assert.equal(await (await system.spawn(A)).asType(A).hi(), "hi");
    }
    assert.equal(inner.isRunning, false);
    assert.equal(pul.getSystem(), global);
  });

  it("the function form gives typed statics spawn and resolve", async () => {
    await pul.init();
    const Counter = pul.remote(
      class Counter {
        constructor(public value = 0) {}
        incr(): number {
          return ++this.value;
        }
      },
    );
    const c = await Counter.spawn({ name: "fn-counter", args: [10] });
    assert.equal(await c.incr(), 11);
    const again = await Counter.resolve("fn-counter");
    assert.equal(await again.incr(), 12);
  });

  it("the decorator form has the statics at run time", async () => {
    await pul.init();
    @pul.remote
    class Deco {
      hi(): string {
        return "deco";
      }
    }
    const statics = Deco as unknown as pul.RemoteStatics<typeof Deco>;
    const d = await statics.spawn({ name: "deco" });
    assert.equal(await d.hi(), "deco");
    assert.equal(await (await statics.resolve("deco")).hi(), "deco");
    assert.equal(await (await pul.resolve("deco", { cls: Deco })).hi(), "deco");
  });

  it("resolve() without timeout fails at once; with timeout it waits for the name", async () => {
    await pul.init();
    class Late {
      hi(): string {
        return "late";
      }
    }
    const t = Date.now();
    await assert.rejects(pul.resolve("late"), hasCode("ACTOR_NOT_FOUND", /'late' not found/));
    assert.ok(Date.now() - t < 100, "Date.now() - t < 100");
    const waiting = pul.resolve("late", { cls: Late, timeout: 5_000 });
    setTimeout(() => void pul.spawn(Late, { name: "late" }), 20);
    assert.equal(await (await waiting).hi(), "late");
    await assert.rejects(pul.resolve("never-there", { timeout: 30 }), hasCode("ACTOR_NOT_FOUND", /not found within 30ms/));
  });

  it("refer() takes an ActorId or its string form", async () => {
    const system = await pul.init();
    class A {
      hi(): string {
        return "a";
      }
    }
    const proxy = await pul.spawn(A, { name: "a" });
    const id = proxy.ref.actorId;
    assert.equal(String(id), `${system.nodeId}:${id.localId}`);
    assert.equal(await (await pul.refer(id)).asType(A).hi(), "a");
    assert.equal(await (await pul.refer(String(id))).asType(A).hi(), "a");
    await assert.rejects(pul.refer("garbage"), hasCode("INVALID_ARGUMENT", /invalid actor id/));
    await assert.rejects(pul.refer(`${system.nodeId}:999999`), hasCode("ACTOR_NOT_FOUND", /no actor/));
  });

  it("mount() puts an object on the mesh and unmount() takes it off", async () => {
    const system = await pul.init();
    class Base {
      inherited(): string {
        return "from base";
      }
    }
    class Service extends Base {
      greet(name: string): string {
        return `hello ${name}`;
      }
      _hidden(): string {
        return "no";
      }
    }
    const ref = await pul.mount(new Service(), { name: "svc" });
    const any = ref.asAny();
    assert.equal(await any.greet("bob"), "hello bob");
    assert.equal(await any.inherited(), "from base");
    await assert.rejects(Promise.resolve(any._hidden()), hasCode("METHOD_NOT_FOUND", /'_hidden'/));
    assert.deepEqual(system.members()[0]!.actors, ["svc"]);
    await pul.unmount("svc");
    assert.equal(await system.hasActor("svc"), false);
    await assert.rejects(pul.unmount("svc"), hasCode("ACTOR_NOT_FOUND", /no actor 'svc'/));
  });

  it("members() lists this node when standalone", async () => {
    const system = await pul.init();
    class A {}
    await pul.spawn(A, { name: "pub" });
    await pul.spawn(A, { name: "priv", public: false });
    await pul.spawn(A);
    assert.deepEqual(system.members(), [
      { nodeId: system.nodeId, addrs: [], status: "alive", runtime: "node", actors: ["pub"] },
    ]);
  });

  it("calls after shutdown fail with PulsingRuntimeError", async () => {
    await pul.init();
    class A {
      hi(): string {
        return "hi";
      }
    }
    const a = await pul.spawn(A);
    await pul.shutdown();
    await assert.rejects(a.hi(), pul.PulsingRuntimeError);
  });

  it("shutdown() runs every actor's onStop", async () => {
    const stopped: string[] = [];
    await pul.init();
    class S {
      constructor(private readonly id: string) {}
      onStop(): void {
        stopped.push(this.id);
      }
    }
    await pul.spawn(S, { args: ["a"] });
    await pul.spawn(S, { args: ["b"] });
    await pul.shutdown();
    assert.deepEqual(stopped.sort(), ["a", "b"]);
  });
});

describe("cancellation of init, spawn and resolve", () => {
  afterEach(() => pul.shutdown());
  const isAbort = (e: unknown): true => {
    assert.equal((e as Error).name, "AbortError", `expected an AbortError, got ${String(e)}`);
    return true;
  };

  it("resolve() with a signal: aborting ends the wait with the signal's reason", async () => {
    await pul.init();
    const controller = new AbortController();
    const started = performance.now();
    const waiting = pul.resolve("never-there", { timeout: 30_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    await assert.rejects(waiting, isAbort);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 5_000, `the abort ended the wait (after ${Math.round(elapsed)} ms), not the timeout`);
    const reason = new Error("not needed any more");
    await assert.rejects(pul.getSystem().resolve("never-there", { signal: AbortSignal.abort(reason) }), (e) => e === reason);
  });

  it("spawn() with a signal: aborting while the actor starts stops it and rejects", async () => {
    await pul.init();
    class SlowStart {
      static started = 0;
      async onStart(): Promise<void> {
        await sleep(100);
        SlowStart.started++;
      }
      hi(): string {
        return "hi";
      }
    }
    const controller = new AbortController();
    const spawning = pul.spawn(SlowStart, { name: "slow-start", signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(spawning, isAbort);
    // It finished starting, then was stopped: the name is free again.
    await eventually(async () => assert.equal(await pul.getSystem().hasActor("slow-start"), false, "the aborted actor is gone"), 5_000);
    assert.equal(SlowStart.started, 1);
    await assert.rejects(pul.spawn(SlowStart, { signal: AbortSignal.abort() }), isAbort);
    const ok = await pul.spawn(SlowStart, { name: "slow-start", signal: new AbortController().signal });
    assert.equal(await ok.hi(), "hi");
  });

  it("init() with a signal: aborting while it waits for its seeds stops the start and rejects", async (t) => {
    // A seed that takes the TCP connection and then says nothing: init() would wait up to its join timeout (5 s)
    // for it. (A closed port would not do: the refused dial ends the wait at once.)
    const sockets = new Set<Socket>();
    const server = createServer((socket) => void sockets.add(socket.on("error", () => {})));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      server.close();
    });
    const port = (server.address() as { port: number }).port;
    const controller = new AbortController();
    const started = performance.now();
    const starting = pul.init({ addr: "127.0.0.1:0", seeds: [`127.0.0.1:${port}`], signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    await assert.rejects(starting, isAbort);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 3_000, `init() rejected ${Math.round(elapsed)} ms after it started, not at the abort`);
    assert.equal(pul.isInitialized(), false, "no global system is left behind");
    await assert.rejects(pul.init({ signal: AbortSignal.abort() }), isAbort);
  });
});

describe("bad input gets clear, typed errors", () => {
  afterEach(() => pul.shutdown());

  it("duplicate names", async () => {
    await pul.init();
    class A {}
    await pul.spawn(A, { name: "dup" });
    await assert.rejects(pul.spawn(A, { name: "dup" }), hasCode("NAME_TAKEN", /'dup' already exists/));
  });

  it("misspelt or invalid options", async () => {
    await pul.init();
    class A {}
    await assert.rejects(
      pul.spawn(A, { restartPolicy: "on_failur" as "on_failure" }),
      hasCode("INVALID_OPTION", /'restartPolicy' must be one of "never", "on_failure", "on-failure", "always", got "on_failur"/),
    );
    await assert.rejects(
      pul.spawn(A, { restart_policy: "always" } as pul.SpawnOptions<[]>),
      hasCode("INVALID_OPTION", /unknown option 'restart_policy'.*did you mean 'restartPolicy'/),
    );
    await assert.rejects(pul.spawn(A, { maxRestarts: -1 }), hasCode("INVALID_OPTION", /'maxRestarts' must be an integer/));
    await assert.rejects(pul.spawn(A, { minBackoff: 100, maxBackoff: 10 }), hasCode("INVALID_OPTION", /minBackoff/));
    await assert.rejects(pul.spawn(A, { concurrency: 0 }), hasCode("INVALID_OPTION", /'concurrency'/));
    await assert.rejects(pul.spawn(A, { name: "" }), hasCode("INVALID_ARGUMENT", /invalid actor name/));
    await assert.rejects(pul.spawn(A, { name: "has space" }), hasCode("INVALID_ARGUMENT", /invalid actor name/));
    await assert.rejects(pul.spawn(A, { args: 5 as unknown as [] }), hasCode("INVALID_OPTION", /'args' must be an array/));
    // the kebab-case spelling of the policy is accepted too
    assert.ok(await pul.spawn(A, { restartPolicy: "on-failure" }), "await pul.spawn(A, { restartPolicy: \"on-failure\" })");
    assert.throws(() => pul.remote({ restartPolicy: "sometimes" as "always" }), hasCode("INVALID_OPTION", /'restartPolicy'/));
    assert.throws(() => pul.remote({ nmae: "x" } as pul.RemoteOptions), hasCode("INVALID_OPTION", /unknown option 'nmae'.*'name'/));
    await assert.rejects(pul.actorSystem({ sedes: [] } as pul.ActorSystemOptions), hasCode("INVALID_OPTION", /unknown option 'sedes'.*'seeds'/));
    await assert.rejects(pul.actorSystem({ seeds: "x" as unknown as string[] }), hasCode("INVALID_OPTION", /'seeds' must be an array/));
    await assert.rejects(pul.actorSystem({ webrtc: "on" as unknown as boolean }), hasCode("INVALID_OPTION", /'webrtc' must be a boolean or an options object/));
    await assert.rejects(
      pul.actorSystem({ webrtc: { directWait: 0 } as pul.WebRTCOptions }),
      hasCode("INVALID_OPTION", /webrtc: unknown option 'directWait'.*'directWaitMs'/),
    );
    await assert.rejects(pul.actorSystem({ webrtc: { directWaitMs: -1 } }), hasCode("INVALID_OPTION", /'directWaitMs' must be a non-negative number/));
  });

  it("spawning something that is not an actor", async () => {
    await pul.init();
    const system = pul.getSystem();
    await assert.rejects(system.spawn(42), hasCode("INVALID_ARGUMENT", /expected an actor class/));
    await assert.rejects(system.spawn(() => 42), hasCode("INVALID_ARGUMENT", /returned 42, not an object/));
    await assert.rejects(pul.spawn(null as unknown as pul.ActorClass), hasCode("INVALID_ARGUMENT", /expected an actor class/));
  });

  it("bad call options reject the call, they do not throw", async () => {
    await pul.init();
    class A {
      hi(): string {
        return "hi";
      }
    }
    const a = await pul.spawn(A);
    await assert.rejects(a.withOptions({ timeout: -5 }).hi(), hasCode("INVALID_OPTION", /'timeout'/));
    await assert.rejects(a.withOptions({ signal: "nope" as unknown as AbortSignal }).hi(), hasCode("INVALID_OPTION", /'signal'/));
  });

  it("a proxy refuses writes", async () => {
    await pul.init();
    class A {
      x = 1;
    }
    const a = await pul.spawn(A);
    assert.throws(() => {
      (a as unknown as { x: number }).x = 2;
    }, hasCode("INVALID_STATE", /cannot set 'x'/));
  });

  it("an actor with no receive() refuses plain asks", async () => {
    await pul.init();
    class A {}
    const a = await pul.spawn(A, { name: "no-receive" });
    await assert.rejects(a.ref.ask("hi"), hasCode("METHOD_NOT_FOUND", /no receive/));
  });

  it("stop() of an unknown actor and of the system actor", async () => {
    const system = await pul.init();
    await assert.rejects(system.stop("ghost"), hasCode("ACTOR_NOT_FOUND", /no actor 'ghost'/));
    await assert.rejects(system.stop("system"), hasCode("INVALID_ARGUMENT", /system actor cannot be stopped/));
  });

  it("askWithTimeout with a bad target or timeout", async () => {
    await pul.init();
    await assert.rejects(pul.askWithTimeout({} as pul.ActorRef, "x", 10), hasCode("INVALID_ARGUMENT", /expected an ActorRef/));
    const ref = await pul.getSystem().spawn({ receive: () => 1 });
    await assert.rejects(pul.askWithTimeout(ref, "x", -1), hasCode("INVALID_OPTION", /timeout/));
  });
});
