/**
 * One cluster of a Node seed, three browser tabs (separate browser contexts) and a Deno node: the same actor code
 * everywhere, every one a full member. The cluster is built once (worker-scoped fixtures, e2e/fixtures.ts) and the
 * tests build on each other (an actor one spawns, a tab one closes), so they run in order.
 */
import assert from "node:assert/strict";
import * as pul from "pulsing";
import { startSeed } from "../src/node/index.js";
import { eventually } from "../test/helpers.js";
import { test } from "./fixtures.js";

/** The failure-detection bound (3 s on loopback), with slack for a loaded 2-core machine running a browser. */
const DETECTION_BOUND_MS = 4_000;

type PageGlobals = { pul: typeof pul; system: pul.ActorSystem };

test.describe("browser tabs, Deno and Node in one cluster", () => {
  test.describe.configure({ mode: "serial" });

  test("every node sees every member, with its runtime", async ({ seed, tabs, deno }) => {
    const expected = [seed.system.nodeId, deno.nodeId, ...tabs.map((t) => t.nodeId)].sort();
    await eventually(async () => {
      const view = seed.system.members();
      assert.deepEqual(view.map((m) => m.nodeId).sort(), expected);
      assert.deepEqual(
        view.map((m) => m.runtime).sort(),
        ["browser", "browser", "browser", "deno", "node"],
      );
      for (const tab of tabs) {
        const seen = await tab.page.evaluate(() => (globalThis as unknown as PageGlobals).system.members().map((m) => m.nodeId));
        assert.deepEqual(seen.sort(), expected);
      }
      const fromDeno = (await deno.command({ members: true })).members as pul.Member[];
      assert.deepEqual(fromDeno.map((m) => m.nodeId).sort(), expected);
    }, 20_000, 100);
  });

  test("tabs are light members: each follows a full node's membership feed and is on no gossip topic", async ({ seed, tabs, deno }) => {
    const full = new Set([seed.system.nodeId, deno.nodeId]);
    await eventually(async () => {
      for (const tab of tabs) {
        const state = await tab.page.evaluate(() => {
          const node = (globalThis as unknown as { system: { mesh: { node: LightNode } } }).system.mesh.node;
          type LightNode = {
            services: { pubsub: { getTopics(): string[] } };
            getConnections(): Array<{ remotePeer: { toString(): string }; streams: Array<{ protocol?: string; direction: string }> }>;
          };
          const feeds = node
            .getConnections()
            .filter((c) => c.streams.some((s) => s.protocol === "/pulsing/cluster/feed/1.0.0" && s.direction === "outbound"))
            .map((c) => c.remotePeer.toString());
          return { topics: node.services.pubsub.getTopics(), feeds };
        });
        assert.deepEqual(state.topics, [], `tab ${tab.nodeId} is subscribed to gossip topics`);
        assert.equal(state.feeds.length, 1, `tab ${tab.nodeId} follows ${state.feeds.length} feeds`);
        assert.ok(full.has(state.feeds[0]!), `tab ${tab.nodeId} follows ${state.feeds[0]}, not a Node or Deno member`);
      }
    }, 10_000, 100);
    // And the full nodes still gossip among themselves.
    const seedTopics = (seed.system as unknown as { mesh: { node: { services: { pubsub: { getTopics(): string[] } } } } }).mesh.node.services.pubsub.getTopics();
    assert.deepEqual(seedTopics, ["/pulsing/default/members/1"]);
  });

  test("a tab can be dialed once init() returns: it holds a relay reservation and a WebRTC address", async ({ seed, tabs, deno }) => {
    for (const tab of tabs) {
      const addrs = await tab.page.evaluate(() => (globalThis as unknown as { addrsAtInit: string[] }).addrsAtInit);
      assert.ok(addrs.some((a) => /\/p2p-circuit\/p2p\//.test(a)), `tab ${tab.nodeId} had no relayed address at init: ${JSON.stringify(addrs)}`);
      assert.ok(addrs.some((a) => a.includes("/p2p-circuit/webrtc/")), `tab ${tab.nodeId} had no WebRTC address at init: ${JSON.stringify(addrs)}`);
    }
    // Members carry those addresses.
    for (const member of seed.system.members().filter((m) => m.runtime === "browser")) {
      assert.ok(member.addrs.length > 0, `the seed knows no address of tab ${member.nodeId}: ${JSON.stringify(seed.system.members().map((m) => [m.nodeId.slice(-6), m.runtime, m.status, m.addrs.length]))}; tabs ${tabs.map((t) => t.nodeId.slice(-6))}`);
    }
  });

  test("tab A spawns a named actor; tab B and the Deno node resolve and call it", async ({ seed, tabs, deno }) => {
    await tabs[0]!.page.evaluate(async () => {
      const { pul } = globalThis as unknown as PageGlobals;
      const Counter = pul.remote(
        class TabCounter {
          n = 0;
          incr(): number {
            return ++this.n;
          }
          where(): string {
            return pul.currentContext().system.runtime;
          }
        },
      );
      await Counter.spawn({ name: "e2e/tab-counter" });
    });
    const fromB = await tabs[1]!.page.evaluate(async () => {
      const { system } = globalThis as unknown as PageGlobals;
      const counter = (await system.resolve("e2e/tab-counter", { timeout: 10_000 })).asAny();
      return [await counter.incr(), await counter.where()];
    });
    assert.deepEqual(fromB, [1, "browser"]);
    const fromDeno = await deno.command({ call: { name: "e2e/tab-counter", method: "incr", args: [] } });
    assert.equal(fromDeno.result, 2);
    assert.equal(fromDeno.nodeId, tabs[0]!.nodeId);
  });

  test("Node calls an actor hosted in a tab, and a tab calls the Deno node", async ({ seed, tabs, deno }) => {
    const ref = await seed.system.resolve("e2e/tab-counter", { timeout: 10_000 });
    assert.equal(ref.actorId.nodeId, tabs[0]!.nodeId);
    assert.equal(await ref.asAny().incr(), 3);
    const fromTab = await tabs[2]!.page.evaluate(async () => {
      const { system } = globalThis as unknown as PageGlobals;
      return (await system.resolve("deno/echo", { timeout: 10_000 })).asAny().where();
    });
    assert.equal((fromTab as { runtime: string }).runtime, "deno");
  });

  test("streams flow tab→Node and tab→tab with backpressure", async ({ seed, tabs, deno }) => {
    await tabs[0]!.page.evaluate(async () => {
      const { pul } = globalThis as unknown as PageGlobals;
      const Source = pul.remote(
        class TabSource {
          produced = 0;
          async *numbers(limit: number): AsyncGenerator<number> {
            for (let i = 0; i < limit; i++) {
              this.produced++;
              yield i;
            }
          }
          count(): number {
            return this.produced;
          }
        },
      );
      await Source.spawn({ name: "e2e/tab-source" });
    });
    // tab → Node: read three items, stop reading, check the producer stayed within the window.
    const source = (await seed.system.resolve("e2e/tab-source", { timeout: 10_000 })).asAny();
    const stream = source.withOptions({ bufferSize: 8 }).numbers(1_000_000);
    const iterator = stream[Symbol.asyncIterator]();
    for (let i = 0; i < 3; i++) assert.deepEqual(await iterator.next(), { value: i, done: false });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const produced = (await source.count()) as number;
    assert.ok(produced <= 3 + 8 + 1, `the tab produced ${produced} items for a reader that read 3 with a window of 8`);
    stream.cancel();
    // tab → tab: tab B reads everything of a bounded stream from tab A, and a slow reader holds it back.
    const result = await tabs[1]!.page.evaluate(async () => {
      const { system } = globalThis as unknown as PageGlobals;
      const remote = (await system.resolve("e2e/tab-source", { timeout: 10_000 })).asAny();
      const before = (await remote.count()) as number;
      const items: number[] = [];
      for await (const n of remote.withOptions({ bufferSize: 4 }).numbers(50)) items.push(n as number);
      const all = items.length === 50 && items.every((n, i) => n === i);
      const slow = remote.withOptions({ bufferSize: 4 }).numbers(1_000_000);
      const it = slow[Symbol.asyncIterator]();
      await it.next();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ahead = ((await remote.count()) as number) - before - 50;
      slow.cancel();
      return { all, ahead };
    });
    assert.equal(result.all, true);
    assert.ok(result.ahead <= 1 + 4 + 1, `the producer ran ${result.ahead} items ahead of a reader with a window of 4`);
  });

  test("tabs talk to each other over direct WebRTC", async ({ seed, tabs, deno }) => {
    await tabs[2]!.page.evaluate(async () => {
      const { system } = globalThis as unknown as PageGlobals;
      await (await system.resolve("e2e/tab-counter", { timeout: 10_000 })).asAny().incr();
    });
    await eventually(async () => {
      const links = await tabs[2]!.page.evaluate(() => (globalThis as unknown as PageGlobals).system.connections());
      const toA = links.filter((c) => c.nodeId === tabs[0]!.nodeId);
      // The calls themselves go over it (a call that found WebRTC slow went relayed, then moved once it was up;
      // a dial that never completes is retried with backoff, so this can take a few attempts of up to 6 s).
      assert.ok(toA.some((c) => c.transport === "webrtc" && !c.relayed && c.carriesCalls), `tab C ↔ tab A: ${JSON.stringify(toA)}`);
    }, 20_000);
    const rtt = await tabs[2]!.page.evaluate(async () => {
      const { system } = globalThis as unknown as PageGlobals;
      const counter = (await system.resolve("e2e/tab-counter")).asAny();
      const samples: number[] = [];
      for (let i = 0; i < 50; i++) {
        const t = performance.now();
        await counter.incr();
        samples.push(performance.now() - t);
      }
      return samples.sort((a, b) => a - b)[25]!;
    });
    assert.ok(rtt < 50, `tab↔tab median RTT ${rtt} ms`);
  });

  test("the dashboard shows every member and the message rates move", async ({ seed, tabs, deno }, testInfo) => {
    const page = tabs[0]!.page;
    const everyone = [seed.system.nodeId, deno.nodeId, ...tabs.map((t) => t.nodeId)].sort();
    await eventually(async () => {
      const drawn = await page.$$eval("#members g.graph-node", (nodes) =>
        nodes.map((n) => `${n.getAttribute("data-node-id")}|${n.getAttribute("data-runtime")}|${n.getAttribute("data-status")}`),
      );
      assert.deepEqual(drawn.map((d) => d.split("|")[0]).sort(), everyone);
      assert.ok(drawn.every((d) => d.endsWith("|alive")), drawn.join(", "));
      assert.deepEqual(drawn.map((d) => d.split("|")[1]).sort(), ["browser", "browser", "browser", "deno", "node"]);
    }, 10_000);
    // Traffic to the counter hosted in tab A: tab A's own rate line must rise.
    const counter = (await seed.system.resolve("e2e/tab-counter")).asAny();
    const traffic = (async () => {
      for (let i = 0; i < 300; i++) {
        await counter.incr();
        if (i % 30 === 0) await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await eventually(async () => {
      const rate = await page.$eval(`#rates li[data-node-id="${tabs[0]!.nodeId}"]`, (li) => Number(li.getAttribute("data-rate") ?? "0"));
      assert.ok(rate > 0, `tab A's rate is ${rate}`);
    }, 10_000, 200);
    await traffic;

    // A person's actions: stream tokens from the seed's streamer, and chat from tab A to tab B.
    const other = tabs[1]!.page;
    await other.click("#stream-start");
    await eventually(async () => {
      const tokens = Number((await other.getAttribute("#stream-output", "data-tokens")) ?? "0");
      assert.ok(tokens >= 3, `${tokens} tokens so far`);
    }, 10_000, 100);
    await other.click("#stream-cancel");
    await eventually(async () => assert.equal(await page.getAttribute("#chat-card", "data-chat"), "joined"), 15_000, 100);
    await eventually(async () => assert.equal(await other.getAttribute("#chat-card", "data-chat"), "joined"), 15_000, 100);
    await page.fill("#chat-input", "hello from tab A");
    await page.click("#chat-send");
    await eventually(async () => {
      const texts = await other.$$eval("#chat-log .msg", (msgs) => msgs.map((m) => m.textContent ?? ""));
      assert.ok(texts.some((t) => t.includes("hello from tab A")), texts.join(" | "));
    }, 10_000, 100);

    await page.evaluate(() => window.scrollTo(0, 0));
    const shot = await page.screenshot({ path: testInfo.outputPath("dashboard.png") });
    await testInfo.attach("dashboard", { body: shot, contentType: "image/png" });
    // Look at the picture itself: decoded in the page, it must be a busy image (graph, chart, panels), not blank.
    const content = await page.evaluate(async (b64) => {
      const image = new Image();
      image.src = `data:image/png;base64,${b64}`;
      await image.decode();
      const canvas = document.createElement("canvas");
      canvas.width = image.width;
      canvas.height = image.height;
      const ctx = canvas.getContext("2d")!;
      ctx.drawImage(image, 0, 0);
      const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const colours = new Set<number>();
      let ink = 0;
      const background = (data[0]! << 16) | (data[1]! << 8) | data[2]!;
      for (let i = 0; i < data.length; i += 4 * 7) {
        const rgb = (data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!;
        colours.add(rgb);
        if (rgb !== background) ink++;
      }
      return { width: canvas.width, height: canvas.height, colours: colours.size, ink: ink / (data.length / (4 * 7)) };
    }, shot.toString("base64"));
    assert.ok(content.width >= 1_000 && content.height >= 800, JSON.stringify(content));
    assert.ok(content.colours > 50, `only ${content.colours} colours in the screenshot`);
    assert.ok(content.ink > 0.05, `the screenshot is ${(content.ink * 100).toFixed(1)} % non-background`);
  });

  test("closing a tab marks it dead everywhere within the bound and its names disappear", async ({ seed, tabs, deno }) => {
    const closing = tabs.pop()!;
    await closing.page.evaluate(async () => {
      const { pul } = globalThis as unknown as PageGlobals;
      await pul.spawn(pul.remote(class Leaving {}), { name: "e2e/leaving" });
    });
    await eventually(async () => assert.ok(await seed.system.hasActor("e2e/leaving"), "await seed.system.hasActor(\"e2e/leaving\")"), 10_000);
    const t = Date.now();
    // The page, not its context: closing a context first saves its part of the trace, which would count here.
    await closing.page.close();
    await eventually(async () => {
      assert.equal(seed.system.members().find((m) => m.nodeId === closing.nodeId)?.status, "dead");
      const seenByTab = await tabs[0]!.page.evaluate(
        (id) => (globalThis as unknown as PageGlobals).system.members().find((m) => m.nodeId === id)?.status,
        closing.nodeId,
      );
      assert.equal(seenByTab, "dead");
      const fromDeno = (await deno.command({ members: true })).members as pul.Member[];
      assert.equal(fromDeno.find((m) => m.nodeId === closing.nodeId)?.status, "dead");
    }, DETECTION_BOUND_MS, 50);
    assert.ok(Date.now() - t <= DETECTION_BOUND_MS, `took ${Date.now() - t} ms`);
    assert.equal(await seed.system.hasActor("e2e/leaving"), false);
  });

  test("a tab with a wrong or missing secret is refused by a protected cluster", async ({ seed, tabs, deno }) => {
    const guarded = await startSeed({ addr: "127.0.0.1:0", passphrase: "right secret" });
    try {
      const seeds = guarded.wsAddrs;
      const outcome = await tabs[0]!.page.evaluate(async (addrs) => {
        const { pul } = globalThis as unknown as PageGlobals;
        const attempt = async (passphrase?: string) => {
          const t = performance.now();
          try {
            const system = await pul.actorSystem({ seeds: addrs, ...(passphrase !== undefined ? { passphrase } : {}) });
            const members = system.members().length;
            await system.shutdown();
            return { ok: true, members, ms: performance.now() - t };
          } catch (error) {
            return { ok: false, name: (error as Error).name, message: (error as Error).message, ms: performance.now() - t };
          }
        };
        return { wrong: await attempt("wrong secret"), missing: await attempt(), right: await attempt("right secret") };
      }, seeds);
      assert.equal(outcome.wrong.ok, false);
      assert.equal(outcome.wrong.name, "PulsingRuntimeError");
      assert.match(outcome.wrong.message!, /secret/);
      assert.ok(outcome.wrong.ms < 3_000, `refusal took ${outcome.wrong.ms} ms`);
      assert.equal(outcome.missing.ok, false);
      assert.match(outcome.missing.message!, /requires a cluster secret/);
      assert.equal(outcome.right.ok, true);
    } finally {
      await guarded.stop();
    }
  });

  test("calls that went relayed move to direct WebRTC under load, losing and reordering nothing", async ({ seed, tabs, deno }) => {
    // A second system in each of two tabs: `directWaitMs: 0` sends first calls over the relay at once, and
    // `targetPeers: 1` keeps membership from dialing the other tab directly beforehand, so the move happens every time.
    type MoveGlobals = PageGlobals & { moveSystem: pul.ActorSystem };
    const [callee, caller] = [tabs[0]!, tabs[1]!];
    const start = (page: typeof callee.page) =>
      page.evaluate(async (seeds) => {
        const g = globalThis as unknown as MoveGlobals;
        g.moveSystem = await g.pul.actorSystem({ seeds, webrtc: { directWaitMs: 0 }, membership: { targetPeers: 1 } });
        return g.moveSystem.nodeId;
      }, seed.wsAddrs);
    const calleeId = await start(callee.page);
    await start(caller.page);
    try {
      await callee.page.evaluate(async () => {
        const system = (globalThis as unknown as MoveGlobals).moveSystem;
        const Sequence = class Sequence {
          n = 0;
          next(): number {
            return ++this.n;
          }
        };
        const Ticker = class Ticker {
          *ticks(): Generator<number> {
            for (let i = 0; ; i++) yield i;
          }
        };
        await system.spawn(new Sequence(), { name: "e2e/sequence" });
        await system.spawn(new Ticker(), { name: "e2e/ticker" });
      });
      const run = await caller.page.evaluate(async (node) => {
        const system = (globalThis as unknown as MoveGlobals).moveSystem;
        const sequence = (await system.resolve("e2e/sequence", { nodeId: node, timeout: 10_000 })).asAny();
        const ticker = (await system.resolve("e2e/ticker", { nodeId: node, timeout: 10_000 })).asAny();
        const carrier = () => system.connections().find((c) => c.nodeId === node && c.carriesCalls);
        const direct = () => carrier()?.transport === "webrtc" && !carrier()?.relayed;
        // What carries new calls, sampled every few ms: "relay", then "webrtc" after the move.
        const carriers: string[] = [];
        const sample = setInterval(() => {
          const c = carrier();
          const kind = c === undefined ? undefined : c.relayed ? "relay" : c.transport;
          if (kind !== undefined && carriers.at(-1) !== kind) carriers.push(kind);
        }, 2);
        // Always 16 calls in flight (the link never idles), and a stream with a credit window of 4 read alongside.
        const results: number[] = [];
        const inflight = new Set<Promise<void>>();
        let sent = 0;
        const send = () => {
          const i = sent++;
          const done: Promise<void> = (sequence.next() as Promise<number>).then((v) => {
            results[i] = v;
            inflight.delete(done);
          });
          inflight.add(done);
        };
        const ticks = (ticker.withOptions({ bufferSize: 4 }).ticks() as AsyncIterable<number>)[Symbol.asyncIterator]();
        const items: number[] = [];
        let itemsAtMove = -1;
        const t = performance.now();
        while (performance.now() - t < 20_000 && (itemsAtMove < 0 || items.length - itemsAtMove < 100)) {
          while (inflight.size < 16) send();
          await Promise.race(inflight);
          items.push((await ticks.next()).value as number);
          if (itemsAtMove < 0 && direct()) itemsAtMove = items.length;
        }
        await Promise.all(inflight);
        await ticks.return?.();
        clearInterval(sample);
        return { carriers, results, sent, items, itemsAtMove, ms: performance.now() - t };
      }, calleeId);
      assert.deepEqual(run.carriers, ["relay", "webrtc"], `new calls ran over ${run.carriers.join(" → ")} (${run.ms} ms)`);
      assert.equal(run.results.length, run.sent, "every call answered");
      assert.deepEqual(run.results, run.results.map((_, i) => i + 1), "every call answered once, in the order sent");
      assert.deepEqual(run.items, run.items.map((_, i) => i), "the stream's items all arrived, in order");
      assert.ok(run.itemsAtMove > 0 && run.items.length >= run.itemsAtMove + 100, `the stream kept flowing across the move (${run.itemsAtMove} → ${run.items.length} items)`);
    } finally {
      for (const tab of [caller, callee]) await tab.page.evaluate(() => (globalThis as unknown as MoveGlobals).moveSystem?.shutdown());
    }
  });
});
