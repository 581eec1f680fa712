import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import * as pul from "pulsing";

const isRuntimeError = (pattern: RegExp) => (e: unknown) => {
  assert.ok(e instanceof pul.PulsingRuntimeError, `expected PulsingRuntimeError, got ${String(e)}`);
  assert.match((e as Error).message, pattern);
  return true;
};

describe("global API and lifecycle", () => {
  afterEach(() => pul.shutdown());

  it("getSystem() throws and spawn/resolve reject before init()", async () => {
    await pul.shutdown();
    assert.equal(pul.isInitialized(), false);
    assert.throws(() => pul.getSystem(), isRuntimeError(/not initialized.*init\(\)/));
    class A {}
    await assert.rejects(pul.spawn(A), isRuntimeError(/not initialized/));
    await assert.rejects(pul.resolve("x"), isRuntimeError(/not initialized/));
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
    await assert.rejects(pul.resolve("late"), isRuntimeError(/'late' not found/));
    assert.ok(Date.now() - t < 100, "Date.now() - t < 100");
    const waiting = pul.resolve("late", { cls: Late, timeout: 5_000 });
    setTimeout(() => void pul.spawn(Late, { name: "late" }), 20);
    assert.equal(await (await waiting).hi(), "late");
    await assert.rejects(pul.resolve("never-there", { timeout: 30 }), isRuntimeError(/not found within 30ms/));
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
    await assert.rejects(pul.refer("garbage"), isRuntimeError(/invalid actor id/));
    await assert.rejects(pul.refer(`${system.nodeId}:999999`), isRuntimeError(/no actor/));
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
    await assert.rejects(Promise.resolve(any._hidden()), isRuntimeError(/'_hidden'/));
    assert.deepEqual(system.members()[0]!.actors, ["svc"]);
    await pul.unmount("svc");
    assert.equal(await system.hasActor("svc"), false);
    await assert.rejects(pul.unmount("svc"), isRuntimeError(/no actor 'svc'/));
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

describe("bad input gets clear, typed errors", () => {
  afterEach(() => pul.shutdown());

  it("duplicate names", async () => {
    await pul.init();
    class A {}
    await pul.spawn(A, { name: "dup" });
    await assert.rejects(pul.spawn(A, { name: "dup" }), isRuntimeError(/'dup' already exists/));
  });

  it("misspelt or invalid options", async () => {
    await pul.init();
    class A {}
    await assert.rejects(
      pul.spawn(A, { restartPolicy: "on_failur" as "on_failure" }),
      isRuntimeError(/invalid restartPolicy "on_failur".*"never", "on_failure" or "always"/),
    );
    await assert.rejects(
      pul.spawn(A, { restart_policy: "always" } as pul.SpawnOptions<[]>),
      isRuntimeError(/unknown option 'restart_policy'.*did you mean 'restartPolicy'/),
    );
    await assert.rejects(pul.spawn(A, { maxRestarts: -1 }), isRuntimeError(/'maxRestarts' must be an integer/));
    await assert.rejects(pul.spawn(A, { minBackoff: 100, maxBackoff: 10 }), isRuntimeError(/minBackoff/));
    await assert.rejects(pul.spawn(A, { concurrency: 0 }), isRuntimeError(/'concurrency'/));
    await assert.rejects(pul.spawn(A, { name: "" }), isRuntimeError(/invalid actor name/));
    await assert.rejects(pul.spawn(A, { name: "has space" }), isRuntimeError(/invalid actor name/));
    await assert.rejects(pul.spawn(A, { args: 5 as unknown as [] }), isRuntimeError(/'args' must be an array/));
    // the kebab-case spelling of the policy is accepted too
    assert.ok(await pul.spawn(A, { restartPolicy: "on-failure" }), "await pul.spawn(A, { restartPolicy: \"on-failure\" })");
    assert.throws(() => pul.remote({ restartPolicy: "sometimes" as "always" }), isRuntimeError(/invalid restartPolicy/));
    assert.throws(() => pul.remote({ nmae: "x" } as pul.RemoteOptions), isRuntimeError(/unknown option 'nmae'.*'name'/));
    await assert.rejects(pul.actorSystem({ sedes: [] } as pul.ActorSystemOptions), isRuntimeError(/unknown option 'sedes'.*'seeds'/));
    await assert.rejects(pul.actorSystem({ seeds: "x" as unknown as string[] }), isRuntimeError(/'seeds' must be an array/));
    await assert.rejects(pul.actorSystem({ webrtc: "on" as unknown as boolean }), isRuntimeError(/'webrtc' must be a boolean or an options object/));
    await assert.rejects(
      pul.actorSystem({ webrtc: { directWait: 0 } as pul.WebRTCOptions }),
      isRuntimeError(/webrtc: unknown option 'directWait'.*'directWaitMs'/),
    );
    await assert.rejects(pul.actorSystem({ webrtc: { directWaitMs: -1 } }), isRuntimeError(/'directWaitMs' must be a non-negative number/));
  });

  it("spawning something that is not an actor", async () => {
    await pul.init();
    const system = pul.getSystem();
    await assert.rejects(system.spawn(42), isRuntimeError(/expected an actor class/));
    await assert.rejects(system.spawn(() => 42), isRuntimeError(/returned 42, not an object/));
    await assert.rejects(pul.spawn(null as unknown as pul.ActorClass), isRuntimeError(/expected an actor class/));
  });

  it("bad call options reject the call, they do not throw", async () => {
    await pul.init();
    class A {
      hi(): string {
        return "hi";
      }
    }
    const a = await pul.spawn(A);
    await assert.rejects(a.withOptions({ timeout: -5 }).hi(), isRuntimeError(/'timeout'/));
    await assert.rejects(a.withOptions({ signal: "nope" as unknown as AbortSignal }).hi(), isRuntimeError(/'signal'/));
  });

  it("a proxy refuses writes", async () => {
    await pul.init();
    class A {
      x = 1;
    }
    const a = await pul.spawn(A);
    assert.throws(() => {
      (a as unknown as { x: number }).x = 2;
    }, isRuntimeError(/cannot set 'x'/));
  });

  it("an actor with no receive() refuses plain asks", async () => {
    await pul.init();
    class A {}
    const a = await pul.spawn(A, { name: "no-receive" });
    await assert.rejects(a.ref.ask("hi"), isRuntimeError(/no receive/));
  });

  it("stop() of an unknown actor and of the system actor", async () => {
    const system = await pul.init();
    await assert.rejects(system.stop("ghost"), isRuntimeError(/no actor 'ghost'/));
    await assert.rejects(system.stop("system"), isRuntimeError(/system actor cannot be stopped/));
  });

  it("askWithTimeout with a bad target or timeout", async () => {
    await pul.init();
    await assert.rejects(pul.askWithTimeout({} as pul.ActorRef, "x", 10), isRuntimeError(/expected an ActorRef/));
    const ref = await pul.getSystem().spawn({ receive: () => 1 });
    await assert.rejects(pul.askWithTimeout(ref, "x", -1), isRuntimeError(/timeout/));
  });
});
