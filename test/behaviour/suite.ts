/**
 * The behavioural suite: what an actor does, seen through the public API. It runs unchanged against an actor
 * in the caller's own system (`test/local.test.ts`) and against one on another node (`test/remote.test.ts`):
 * location transparency is whatever this suite cannot tell apart.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { Counter, Echo, EchoActor, Failer, Interleaver, Producer, SerialInterleaver } from "../fixtures/actors.js";
import { eventually } from "../helpers.js";

export interface SuiteHarness {
  /** The system making the calls. */
  caller: pul.ActorSystem;
  /** Spawns `cls` where the suite's actors live (here or on another node) and returns a proxy via `caller`. */
  spawn<C extends pul.ActorClass>(cls: C, options?: pul.SpawnOptions): Promise<pul.ActorProxy<InstanceType<C>>>;
  /** Spawns a message-level actor where the suite's actors live; returns its ref via `caller`. */
  spawnRef(cls: pul.ActorClass, options?: pul.SpawnOptions): Promise<pul.ActorRef>;
  /** The node the actors live on. */
  actorNode: string;
  close(): Promise<void>;
}

export function behaviourSuite(where: string, open: () => Promise<SuiteHarness>): void {
  describe(`behaviour (${where})`, () => {
    let h: SuiteHarness;
    before(async () => {
      h = await open();
    });
    after(async () => {
      await h?.close();
    });

    describe("ask through typed proxies", () => {
      it("calls sync and async methods and returns their results", async () => {
        const c = await h.spawn(Counter, { args: [10] });
        assert.equal(await c.incr(), 11);
        assert.equal(await c.add(5), 16);
        assert.equal(await c.fetchAndAdd(4), 20);
        assert.equal(await c.get(), 20);
      });

      it("runs the actor where it was spawned", async () => {
        const e = await h.spawn(Echo);
        const me = await e.whoami();
        assert.equal(me.nodeId, h.actorNode);
        assert.equal(me.actorId, String(e.ref.actorId));
      });

      it("keeps currentContext() valid across awaits in async methods", async () => {
        const e = await h.spawn(Echo);
        assert.equal(await e.whoamiLater(), String(e.ref.actorId));
      });

      it("starts messages from one caller in the order sent (FIFO)", async () => {
        const c = await h.spawn(Counter);
        const sent = Array.from({ length: 200 }, (_, i) => `m${i}`);
        const results = await Promise.all(sent.map((entry) => c.record(entry)));
        assert.deepEqual(results, sent.map((_, i) => i + 1));
        assert.deepEqual(await c.history(), sent);
      });

      it("runs sync methods to completion one after another", async () => {
        const c = await h.spawn(Counter);
        const results = await Promise.all(Array.from({ length: 100 }, () => c.incr()));
        assert.deepEqual(results, Array.from({ length: 100 }, (_, i) => i + 1));
      });

      it("interleaves async methods at their awaits by default", async () => {
        const a = await h.spawn(Interleaver);
        const waiting = a.waitFor("x");
        // The waiting call can only finish if a later message runs while it is suspended.
        await eventually(async () => assert.equal(await a.release("x"), true));
        assert.equal(await waiting, "released:x");
        await Promise.all([a.work("1", 20), a.work("2", 20), a.work("3", 20)]);
        assert.equal((await a.stats()).maxInflight, 3);
      });

      it("makes async methods strictly serial with concurrency: 1", async () => {
        const a = await h.spawn(SerialInterleaver);
        await Promise.all([a.work("1", 10), a.work("2", 10), a.work("3", 10)]);
        const { maxInflight, events } = await a.stats();
        assert.equal(maxInflight, 1);
        assert.deepEqual(events, ["start:1", "end:1", "start:2", "end:2", "start:3", "end:3"]);
      });

      it("also honours concurrency given at spawn", async () => {
        const a = await h.spawn(Interleaver, { concurrency: 2 });
        await Promise.all(["1", "2", "3", "4"].map((id) => a.work(id, 15)));
        assert.equal((await a.stats()).maxInflight, 2);
      });

      it("carries values of many types", async () => {
        const e = await h.spawn(Echo);
        const value = { n: 1.5, s: "ü", list: [1, "two", null, true], nested: { deep: { x: [1, 2, 3] } }, none: undefined };
        assert.deepEqual(await e.echo(value), value);
        assert.equal(await e.describe(new Date(0)), "Date:1970-01-01T00:00:00.000Z");
        assert.equal(await e.describe(new Uint8Array([1, 2, 3])), "Uint8Array:1,2,3");
        assert.equal(await e.describe(2n ** 70n), `bigint:${2n ** 70n}`);
        assert.equal(await e.describe(new Set([1, 2])), "Set:1,2");
        assert.equal(await e.echo(Number.NaN), Number.NaN);
      });

      it("is never thenable: awaiting a proxy yields the proxy", async () => {
        const c = await h.spawn(Counter);
        assert.equal(await c, c);
        assert.equal((c as unknown as { then?: unknown }).then, undefined);
      });

      it("passes proxies and refs as arguments", async () => {
        const target = await h.spawn(Counter, { args: [41] });
        const e = await h.spawn(Echo);
        const back = (await e.echo(target.ref)) as pul.ActorRef;
        assert.ok(back instanceof pul.ActorRef, "back instanceof pul.ActorRef");
        assert.equal(String(back.actorId), String(target.ref.actorId));
        assert.equal(await back.asType(Counter).incr(), 42);
      });
    });

    describe("untyped proxies", () => {
      it("awaits an ActorCall for a single reply", async () => {
        const c = await h.spawn(Counter, { args: [1] });
        const any = c.asAny();
        assert.equal(await any.incr(), 2);
      });

      it("iterates an ActorCall for a stream", async () => {
        const c = await h.spawn(Counter);
        const items: unknown[] = [];
        for await (const n of c.asAny().count(3)) items.push(n);
        assert.deepEqual(items, [1, 2, 3]);
      });

      it("refuses to iterate a single value", async () => {
        const c = await h.spawn(Counter);
        await assert.rejects(
          (async () => {
            for await (const _ of c.asAny().incr()) assert.fail("no items expected");
          })(),
          (e: unknown) => e instanceof pul.PulsingRuntimeError && e.code === "NOT_A_STREAM",
        );
      });
    });

    describe("streaming", () => {
      it("streams async and sync generator methods", async () => {
        const c = await h.spawn(Counter);
        const a: number[] = [];
        for await (const n of c.count(5)) a.push(n);
        assert.deepEqual(a, [1, 2, 3, 4, 5]);
        const b: number[] = [];
        for await (const n of c.range(3, 6)) b.push(n);
        assert.deepEqual(b, [3, 4, 5]);
      });

      it("streams a method that returns an async iterable", async () => {
        const p = await h.spawn(Producer);
        const got: string[] = [];
        for await (const s of p.letters()) got.push(s);
        assert.deepEqual(got, ["a", "b"]);
      });

      it("stops the producer when the consumer breaks (its finally runs)", async () => {
        const p = await h.spawn(Producer);
        let seen = 0;
        for await (const n of p.numbers(1_000_000)) {
          seen++;
          if (n === 4) break;
        }
        assert.equal(seen, 5);
        await eventually(async () => assert.equal((await p.counters()).finalized, 1));
        assert.ok((await p.counters()).produced < 100, "the producer ran far ahead of the consumer");
      });

      it("stops the producer on cancel()", async () => {
        const p = await h.spawn(Producer);
        const stream = p.slow(1_000_000, 2);
        const it = stream[Symbol.asyncIterator]();
        assert.deepEqual(await it.next(), { value: 0, done: false });
        stream.cancel();
        assert.equal((await it.next()).done, true);
        await eventually(async () => assert.equal((await p.counters()).finalized, 1));
      });

      it("applies backpressure: a consumer that stops reading stops the producer", async () => {
        const p = await h.spawn(Producer);
        const stream = p.withOptions({ bufferSize: 8 }).numbers(1_000_000);
        const it = stream[Symbol.asyncIterator]();
        for (let i = 0; i < 3; i++) await it.next();
        // Give the producer every chance to run ahead, then check it stayed within the credit window.
        await new Promise((resolve) => setTimeout(resolve, 100));
        const { produced } = await p.counters();
        assert.ok(produced <= 3 + 8 + 1, `produced ${produced} items with 3 read and a window of 8`);
        stream.cancel();
        await eventually(async () => assert.equal((await p.counters()).finalized, 1));
      });

      it("delivers a stream's error after its items, keeping class and fields", async () => {
        const p = await h.spawn(Producer);
        const got: number[] = [];
        await assert.rejects(
          (async () => {
            for await (const n of p.failing(3)) got.push(n);
          })(),
          (e: unknown) => e instanceof pul.PulsingBusinessError && e.code === 422 && (e.details as { at: number }).at === 3,
        );
        assert.deepEqual(got, [0, 1, 2]);
      });

      it("streams a streaming Message (StreamMessage / StreamWriter)", async () => {
        const p = await h.spawn(Producer);
        const msg = await p.tokens(10);
        assert.ok(msg instanceof pul.Message, "msg instanceof pul.Message");
        assert.equal(msg.isStream, true);
        assert.equal(msg.msgType, "tokens");
        const tokens: unknown[] = [];
        for await (const item of msg.streamReader()) tokens.push(item);
        assert.deepEqual(tokens, Array.from({ length: 10 }, (_, i) => ({ token: `t${i}`, index: i })));
      });
    });

    describe("errors", () => {
      it("keeps business errors' class and fields", async () => {
        const f = await h.spawn(Failer);
        await assert.rejects(f.business(), (e: unknown) => {
          assert.ok(e instanceof pul.PulsingBusinessError, "e instanceof pul.PulsingBusinessError");
          assert.equal(e.name, "PulsingBusinessError");
          assert.equal(e.code, 400);
          assert.equal(e.message, "Age must be >= 18");
          assert.deepEqual(e.details, { field: "age" });
          return true;
        });
        assert.equal(await f.alive(), "alive");
      });

      it("keeps timeout and unsupported errors' fields", async () => {
        const f = await h.spawn(Failer);
        await assert.rejects(f.timeout(), (e: unknown) => e instanceof pul.PulsingTimeoutError && e.operation === "fetch" && e.durationMs === 5000);
        await assert.rejects(f.unsupported(), (e: unknown) => e instanceof pul.PulsingUnsupportedError && e.operation === "legacy");
      });

      it("wraps other errors in PulsingActorError with the original name, message and stack in cause", async () => {
        const f = await h.spawn(Failer, { name: `failer-${Math.random()}` });
        for (const call of [() => f.plain(), () => f.asyncPlain()]) {
          await assert.rejects(call(), (e: unknown) => {
            assert.ok(e instanceof pul.PulsingActorError, "e instanceof pul.PulsingActorError");
            assert.match(e.message, /^(RangeError: out of range|TypeError: async boom)$/);
            const cause = e.cause as Error;
            assert.ok(cause instanceof Error, "cause instanceof Error");
            assert.match(cause.name, /RangeError|TypeError/);
            assert.match(String(cause.stack), /actors\.ts/);
            return true;
          });
        }
      });

      it("an ordinary error fails only that call; the actor lives", async () => {
        const f = await h.spawn(Failer);
        await assert.rejects(f.plain());
        assert.equal(await f.alive(), "alive");
      });

      it("refuses unknown and non-public methods, naming them", async () => {
        const c = await h.spawn(Counter);
        const any = c.asAny();
        for (const name of ["nope", "_secret", "constructor", "toString", "hasOwnProperty", "__proto__", "onStart"]) {
          await assert.rejects(Promise.resolve(any[name]!()), (e: unknown) => {
            return e instanceof pul.PulsingRuntimeError && e.code === "METHOD_NOT_FOUND" && e.message.includes(`'${name}'`);
          }, name);
        }
        assert.equal(await c.incr(), 1);
      });
    });

    describe("timeouts and cancellation", () => {
      it("rejects with PulsingTimeoutError after the call's timeout", async () => {
        const f = await h.spawn(Failer);
        await assert.rejects(f.withOptions({ timeout: 30 }).slow(2_000), (e: unknown) => e instanceof pul.PulsingTimeoutError && e.code === "TIMEOUT");
        assert.equal(await f.alive(), "alive");
      });

      it("askWithTimeout rejects with PulsingTimeoutError", async () => {
        const ref = await h.spawnRef(EchoActor);
        assert.equal(await pul.askWithTimeout(ref, { hi: 1 }, 5_000), 'echo: {"hi":1}');
        // A reply that comes after the timeout: the call rejects at the timeout, with PulsingTimeoutError.
        const started = performance.now();
        await assert.rejects(
          pul.askWithTimeout(ref, { op: "sleep", ms: 2_000 }, 50),
          (e: unknown) => e instanceof pul.PulsingTimeoutError && e.code === "TIMEOUT" && e.durationMs === 50,
        );
        const elapsed = performance.now() - started;
        assert.ok(elapsed >= 45 && elapsed < 1_500, `rejected after ${Math.round(elapsed)} ms, not at the 50 ms timeout`);
        // The actor's late reply is dropped, and it keeps serving.
        assert.equal(await pul.askWithTimeout(ref, "again", 5_000), 'echo: "again"');
      });

      it("rejects with the signal's reason on abort and cancels the call in the actor", async () => {
        const f = await h.spawn(Failer);
        const controller = new AbortController();
        const pending = f.withOptions({ signal: controller.signal }).waitForAbort();
        await new Promise((resolve) => setTimeout(resolve, 20));
        controller.abort();
        await assert.rejects(pending, (e: unknown) => (e as Error).name === "AbortError");
        await eventually(async () => assert.equal(await f.abortedCount(), 1));
      });

      it("rejects at once for an already aborted signal", async () => {
        const f = await h.spawn(Failer);
        await assert.rejects(f.withOptions({ signal: AbortSignal.abort() }).alive(), (e: unknown) => (e as Error).name === "AbortError");
      });

      it("cancel() on an ActorCall aborts the call in the actor", async () => {
        const f = await h.spawn(Failer);
        const call = f.asAny().waitForAbort();
        await new Promise((resolve) => setTimeout(resolve, 20));
        call.cancel();
        await assert.rejects(call, (e: unknown) => (e as Error).name === "AbortError");
        await eventually(async () => assert.equal(await f.abortedCount(), 1));
      });
    });

    describe("message level (ActorRef, Actor, Message)", () => {
      it("asks, tells and streams to receive()", async () => {
        const ref = await h.spawnRef(EchoActor);
        assert.equal(await ref.ask({ message: "hello" }), 'echo: {"message":"hello"}');
        await ref.tell({ event: "fire_and_forget" });
        const items: unknown[] = [];
        for await (const n of ref.askStream({ op: "range", n: 4 })) items.push(n);
        assert.deepEqual(items, [0, 1, 2, 3]);
        assert.equal(await ref.ask({ op: "whoami" }), String(ref.actorId));
      });

      it("exchanges Message objects", async () => {
        const ref = await h.spawnRef(EchoActor);
        const reply = (await ref.ask(pul.Message.single("ping", new TextEncoder().encode('{"a":1}')))) as pul.Message;
        assert.ok(reply instanceof pul.Message, "reply instanceof pul.Message");
        assert.equal(reply.msgType, "ping:reply");
        assert.deepEqual(reply.toJson(), { a: 1 });
        const packed = (await ref.ask(pul.Message.pack("obj", { k: [1, 2] }))) as pul.Message;
        assert.deepEqual(packed.toObject(), { k: [1, 2] });
      });

      it("returns a streaming Message from ask when receive() streams", async () => {
        const ref = await h.spawnRef(EchoActor);
        const reply = (await ref.ask(pul.Message.single("stream", new Uint8Array()))) as pul.Message;
        assert.equal(reply.isStream, true);
        const chunks: unknown[] = [];
        for await (const c of reply.streamReader()) chunks.push(c);
        assert.deepEqual(chunks, ["x", "y", "z"]);
      });

      it("turns refs into proxies with asType and asAny", async () => {
        const c = await h.spawn(Counter, { args: [7] });
        const ref = await h.caller.refer(String(c.ref.actorId));
        assert.equal(await ref.asType(Counter).incr(), 8);
        assert.equal(await ref.asAny().incr(), 9);
      });
    });
  });
}
