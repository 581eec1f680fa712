/**
 * Actor classes without a usable name (what a minifier leaves of `remote(class Counter { … })`) and classes that
 * share a name: everything that does not need a name works; a spawn from another node says what to do.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { hasCode } from "./helpers.js";

// Class expressions passed straight to a call are anonymous (`name === ""`), as after minification.
const Anonymous = pul.remote(
  class {
    n = 0;
    incr(): number {
      return ++this.n;
    }
    async *count(to: number): AsyncGenerator<number> {
      for (let i = 1; i <= to; i++) yield i;
    }
  },
);

// Two different classes a minifier named alike.
const makeShortNamed = (greeting: string) =>
  pul.remote({ name: "e" })(
    greeting === "hello"
      ? class {
          greet(): string {
            return "hello";
          }
        }
      : class {
          greet(): string {
            return "bonjour";
          }
        },
  );
const First = makeShortNamed("hello");
makeShortNamed("bonjour");

// The same class source registered twice (a module reloaded, HMR) simply replaces the first.
const reload = () =>
  pul.remote({ name: "Reloaded" })(
    class {
      ping(): string {
        return "pong";
      }
    },
  );
reload();
const Reloaded = reload();

describe("actor classes without a usable name", () => {
  let a: pul.ActorSystem;
  let b: pul.ActorSystem;

  before(async () => {
    a = await pul.actorSystem({ addr: "127.0.0.1:0" });
    const tcp = a.addrs.find((addr) => !addr.includes("/ws"))!;
    b = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcp] });
  });
  after(async () => {
    await b?.shutdown();
    await a?.shutdown();
  });

  it("decorating an anonymous class does not throw, and it works locally: spawn, calls, streams, resolve by name", async () => {
    assert.equal(Anonymous.name, "", "the class really is anonymous");
    const ref = await a.spawn(Anonymous, { name: "anon" });
    const proxy = ref.asType(Anonymous);
    assert.equal(await proxy.incr(), 1);
    const items: number[] = [];
    for await (const n of proxy.count(3)) items.push(n);
    assert.deepEqual(items, [1, 2, 3]);
    const again = (await a.resolve("anon")).asType(Anonymous);
    assert.equal(await again.incr(), 2);
  });

  it("is callable from another node once spawned (calls need no class name)", async () => {
    const ref = await a.spawn(Anonymous, { name: "anon-remote" });
    const fromB = (await b.resolve("anon-remote", { timeout: 10_000 })).asType(Anonymous);
    assert.equal(await fromB.incr(), 1);
    assert.equal(String(ref.actorId), String(fromB.ref.actorId));
  });

  it("a spawn on another node fails then, saying how to give it a name", async () => {
    await assert.rejects(b.spawn(Anonymous, { node: a.nodeId }), hasCode("CLASS_NOT_REGISTERED", /remote\(\{ name: "Counter" \}\)/));
  });

  it("two different classes under one name are not confused: a spawn by that name fails, on either side", async () => {
    // Here, on the spawning side.
    await assert.rejects(b.spawn(First, { node: a.nodeId }), hasCode("CLASS_NOT_REGISTERED", /two different classes are registered as 'e'/));
    // There, on the node asked to build it (a caller that cannot tell: the raw spawn request of the cluster protocol);
    // the refusal reaches the caller with its code.
    const spawnRequest = { t: "spawn", className: "e", options: {} };
    await assert.rejects(
      b.mesh!.request(a.nodeId, "/pulsing/cluster/1.0.0", spawnRequest, { maxRequestBytes: 1 << 20, maxAnswerBytes: 1 << 20 }, 5_000),
      hasCode("CLASS_NOT_REGISTERED", /two different classes/),
    );
    // Locally each is still itself.
    assert.equal(await (await a.spawn(First)).asType(First).greet(), "hello");
  });

  it("the same class source registered again replaces it (module reloads), and spawns remotely", async () => {
    const ref = await b.spawn(Reloaded, { node: a.nodeId, name: "reloaded" });
    assert.equal(await ref.asType(Reloaded).ping(), "pong");
  });
});
