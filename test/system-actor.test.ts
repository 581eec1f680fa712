import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as pul from "pulsing";
import { hasCode } from "./helpers.js";

describe("system actor", () => {
  let system: pul.ActorSystem;
  before(async () => {
    system = await pul.actorSystem();
  });
  after(() => system.shutdown());

  it("answers ping, healthCheck, getNodeInfo, listActors and getMetrics", async () => {
    class Worker {
      work(): number {
        return 1;
      }
    }
    const w = (await system.spawn(Worker, { name: "worker" })).asType(Worker);
    await w.work();
    await w.work();
    const sys = await pul.getSystemActor(system);
    const pong = await sys.ping();
    assert.equal(pong.pong, true);
    assert.equal(pong.nodeId, system.nodeId);
    assert.equal((await sys.healthCheck()).status, "healthy");
    const info = await sys.getNodeInfo();
    assert.equal(info.nodeId, system.nodeId);
    assert.equal(info.runtime, "node");
    const actors = await sys.listActors();
    const worker = actors.find((a) => a.name === "worker");
    assert.ok(worker, "worker");
    assert.equal(worker.className, "Worker");
    assert.equal(worker.processed, 2);
    assert.equal(worker.actorId, String(w.ref.actorId));
    assert.ok(actors.some((a) => a.name === "system" && a.actorId === `${system.nodeId}:0`), "actors.some((a) => a.name === \"system\" && a.actorId === `${system.nodeId}:0`)");
    const metrics = await sys.getMetrics();
    assert.equal(metrics.actors, 2);
    assert.ok(metrics.messagesProcessed >= 2, "metrics.messagesProcessed >= 2");
    assert.deepEqual(metrics.members, { alive: 1, suspect: 0, dead: 0 });
  });

  it("is reachable by name and by id", async () => {
    const byName = await system.resolve("system");
    assert.equal(String(byName.actorId), `${system.nodeId}:0`);
    const proxy = byName.asType(pul.SystemActor);
    assert.equal((await proxy.ping()).pong, true);
  });
});

describe("stateful behaviors", () => {
  let system: pul.ActorSystem;
  before(async () => {
    system = await pul.actorSystem();
  });
  after(() => system.shutdown());

  it("keeps state between messages and replies", async () => {
    const counter = pul.stateful(0, (n, by: number) => pul.BehaviorAction.next(n + by, n + by));
    const ref = await system.spawn(counter, { name: "behavior-counter" });
    assert.equal(await ref.ask(5), 5);
    assert.equal(await ref.ask(3), 8);
  });

  it("accepts a plain reply (state mutated in place) and stop()", async () => {
    const list = pul.stateful(
      () => ({ items: [] as string[] }),
      (state, msg: string, ctx) => {
        if (msg === "stop") return pul.BehaviorAction.stop(`stopping ${String(ctx.actorId.localId > 0)}`);
        state.items.push(msg);
        return state.items.length;
      },
    );
    const ref = await system.spawn(list, { name: "list" });
    assert.equal(await ref.ask("a"), 1);
    assert.equal(await ref.ask("b"), 2);
    assert.equal(await ref.ask("stop"), "stopping true");
    await assert.rejects(ref.ask("c"), hasCode("ACTOR_STOPPED"));
  });

  it("handles async handlers one message at a time", async () => {
    const slow = pul.stateful(0, async (n, _msg: unknown) => {
      const read = n;
      await new Promise((resolve) => setTimeout(resolve, 2));
      return pul.BehaviorAction.next(read + 1, read + 1);
    });
    const ref = await system.spawn(slow);
    const replies = await Promise.all(Array.from({ length: 10 }, () => ref.ask("x")));
    assert.deepEqual(replies, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("restarts from the initial state", async () => {
    const crashy = pul.stateful({ n: 0 }, (state, msg: string) => {
      if (msg === "crash") throw new pul.PulsingSystemError("crash");
      return ++state.n;
    });
    const ref = await system.spawn(crashy, { restartPolicy: "on_failure", minBackoff: 1 });
    assert.equal(await ref.ask("x"), 1);
    assert.equal(await ref.ask("x"), 2);
    await assert.rejects(ref.ask("crash"), pul.PulsingSystemError);
    assert.equal(await ref.ask("x"), 1);
  });
});

describe("Message and StreamMessage", () => {
  it("single messages carry type and payload", () => {
    const msg = pul.Message.single("greet", new TextEncoder().encode('{"name":"ada"}'));
    assert.equal(msg.msgType, "greet");
    assert.equal(msg.isStream, false);
    assert.deepEqual(msg.toJson(), { name: "ada" });
    assert.throws(() => msg.streamReader(), hasCode("NOT_A_STREAM"));
    assert.throws(() => pul.Message.single("x", "text" as unknown as Uint8Array), hasCode("INVALID_ARGUMENT", /payload must be a Uint8Array/));
    assert.throws(() => pul.Message.single("x", new Uint8Array([0xff])).toJson(), hasCode("INVALID_STATE", /not UTF-8 JSON/));
  });

  it("pack/toObject round-trips through the wire codec", () => {
    const value = { when: new Date(5), bytes: new Uint8Array([1, 2]), big: 10n };
    assert.deepEqual(pul.Message.pack("v", value).toObject(), value);
  });

  it("StreamWriter.write waits while the reader is bufferSize behind", async () => {
    const [msg, writer] = pul.StreamMessage.create("s", 2);
    let written = 0;
    const producing = (async () => {
      for (let i = 0; i < 5; i++) {
        await writer.write(i);
        written++;
      }
      await writer.close();
    })();
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(written, 2);
    const got: unknown[] = [];
    for await (const item of msg.streamReader()) got.push(item);
    await producing;
    assert.deepEqual(got, [0, 1, 2, 3, 4]);
  });

  it("writer.error() ends the stream with a PulsingActorError; a cancelled reader stops the writer", async () => {
    const [msg, writer] = pul.StreamMessage.create();
    void writer.write("a").then(() => writer.error("went wrong"));
    const reader = msg.streamReader();
    assert.deepEqual(await reader.next(), { value: "a", done: false });
    await assert.rejects(reader.next(), (e: unknown) => e instanceof pul.PulsingActorError && e.message === "went wrong");

    const [msg2, writer2] = pul.StreamMessage.create("t", 1);
    const reader2 = msg2.streamReader();
    reader2.cancel();
    await assert.rejects(writer2.write(1), hasCode("STREAM_CLOSED"));
    assert.equal(writer2.cancelled, true);
    assert.throws(() => msg2.streamReader(), hasCode("INVALID_STATE"));
  });
});
