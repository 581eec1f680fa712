/**
 * Browser links: tab → Node over WebSockets, tab ↔ tab over direct WebRTC, and tab ↔ tab relayed through the
 * seed, each an ask round trip (median, p99) and asks/s with 64 in flight, measured inside the pages.
 * Runs where e2e/run.mjs runs the browser tests (a private network namespace with a veth pair, as root):
 * `npm run bench -- browser` goes through `node e2e/run.mjs --bench`.
 */
import { fileURLToPath } from "node:url";
import type * as pul from "pulsing";
import { startSeed } from "../src/node/index.js";
import type { Browser } from "playwright-core";
import { launchChromium, openTab, type Tab } from "../e2e/harness.js";
import { fmtMs, fmtRate, table } from "./harness.js";

type PageGlobals = { pul: typeof pul; system: pul.ActorSystem };

const DASHBOARD = fileURLToPath(new URL("../dist/demo", import.meta.url));

interface LinkResult {
  median: number;
  p99: number;
  perSecond: number;
  transport: string;
}

/**
 * From `from`, asks of the actor named `name` on `expectNode`: RTT over 500 sequential asks, then 64 in flight.
 * With `direct`, first waits (up to 10 s) for the calls to go over a direct connection.
 */
async function measureLink(from: Tab, name: string, expectNode: string, direct = false): Promise<LinkResult> {
  return from.page.evaluate(
    async ({ name, expectNode, direct }) => {
      const { system } = globalThis as unknown as PageGlobals;
      const ref = await system.resolve(name, { nodeId: expectNode, timeout: 10_000 });
      const echo = ref.asAny();
      for (let i = 0; i < 100; i++) await echo.echo(i);
      const deadline = performance.now() + 10_000;
      const onDirect = (): boolean => system.connections().some((c) => c.nodeId === expectNode && c.carriesCalls && !c.relayed);
      while (direct && !onDirect() && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const samples: number[] = [];
      for (let i = 0; i < 500; i++) {
        const t = performance.now();
        await echo.echo(i);
        samples.push(performance.now() - t);
      }
      samples.sort((a, b) => a - b);
      const ops = 5_000;
      let started = 0;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (started++ < ops) await echo.echo(started);
        }),
      );
      const perSecond = ops / ((performance.now() - t) / 1000);
      const link = system.connections().find((c) => c.nodeId === expectNode && c.carriesCalls);
      return { median: samples[250]!, p99: samples[495]!, perSecond, transport: link?.transport ?? "none" };
    },
    { name, expectNode, direct },
  );
}

/** Pairs of fresh tabs for the connection set-up rounds (`BENCH_SETUP_ROUNDS` for a longer look at the rare slow set-up). */
const SETUP_ROUNDS = Math.max(1, Number(process.env.BENCH_SETUP_ROUNDS) || 6);

interface SetupResult {
  /** the first call from one fresh tab to another (resolve excluded) */
  firstCallMs: number;
  /** from that call until the calls go over a direct connection (-1: not within 15 s) */
  directAfterMs: number;
}

/** A tab's first call to an actor in another fresh tab, and how long until its calls run over direct WebRTC. */
async function measureSetup(from: Tab, to: Tab, name: string): Promise<SetupResult> {
  return from.page.evaluate(
    async ({ name, node }) => {
      const { system } = globalThis as unknown as PageGlobals;
      const echo = (await system.resolve(name, { nodeId: node, timeout: 10_000 })).asAny();
      const t = performance.now();
      await echo.echo(0);
      const firstCallMs = performance.now() - t;
      const onDirect = (): boolean => system.connections().some((c) => c.nodeId === node && c.carriesCalls && !c.relayed);
      while (!onDirect() && performance.now() - t < 15_000) await new Promise((resolve) => setTimeout(resolve, 20));
      return { firstCallMs, directAfterMs: onDirect() ? performance.now() - t : -1 };
    },
    { name, node: to.nodeId },
  );
}

async function spawnEcho(tab: Tab, source: string, name: string): Promise<void> {
  await tab.page.evaluate(
    async ({ source, name }) => {
      const { system } = globalThis as unknown as PageGlobals;
      const Echo = new Function(`return ${source}`)() as new () => object;
      await system.spawn(new Echo(), { name });
    },
    { source, name },
  );
}

let setupPairs = 0;

/** Connection set-up between fresh tabs: each round opens two, and each calls the other at the same moment. */
async function setupRounds(browser: Browser, url: string, echoClass: string, setting: string): Promise<void> {
  const setups: SetupResult[] = [];
  for (let round = 0; round < SETUP_ROUNDS; round++) {
    const pair = [await openTab(browser, url), await openTab(browser, url)] as const;
    const tag = ++setupPairs; // actor names stay unique across calls
    await Promise.all(pair.map((tab, i) => spawnEcho(tab, echoClass, `bench/setup${tag}-${i}`)));
    setups.push(...(await Promise.all([measureSetup(pair[0], pair[1], `bench/setup${tag}-1`), measureSetup(pair[1], pair[0], `bench/setup${tag}-0`)])));
    for (const tab of pair) await tab.page.context().close();
  }
  const firsts = setups.map((r) => r.firstCallMs).sort((x, y) => x - y);
  const directs = setups.filter((r) => r.directAfterMs >= 0).map((r) => r.directAfterMs).sort((x, y) => x - y);
  table(`tab ↔ tab set-up, ${setting} (${SETUP_ROUNDS} pairs of fresh tabs calling each other at once; ${setups.length} links)`, [
    ["first call", `median ${fmtMs(firsts[firsts.length >> 1]!)}, max ${fmtMs(firsts.at(-1)!)}`, "a call waits ≤ 1 s for WebRTC, then goes relayed"],
    [
      "calls on direct WebRTC after",
      directs.length > 0 ? `median ${fmtMs(directs[directs.length >> 1]!)}, max ${fmtMs(directs.at(-1)!)}` : "never",
      `${directs.length} of ${setups.length} links direct within 15 s`,
    ],
  ]);
}

export async function benchBrowser(): Promise<void> {
  const seed = await startSeed({ addr: "127.0.0.1:0", dashboard: { root: DASHBOARD, port: 0, host: "127.0.0.1" } });
  const browser = await launchChromium();
  try {
    const echoClass = `class Echo { echo(v) { return v; } }`;
    await seed.system.spawn(
      new (class Echo {
        echo(value: unknown): unknown {
          return value;
        }
      })(),
      { name: "bench/echo" },
    );
    await setupRounds(browser, seed.url!, echoClass, "no other tab open");
    const a = await openTab(browser, seed.url!);
    const b = await openTab(browser, seed.url!);
    const relayedTab = await openTab(browser, `${seed.url!}#webrtc=off`);
    await spawnEcho(a, echoClass, "bench/echo");
    const ws = await measureLink(b, "bench/echo", seed.system.nodeId);
    const direct = await measureLink(b, "bench/echo", a.nodeId, true);
    const relayed = await measureLink(relayedTab, "bench/echo", a.nodeId);
    const row = (name: string, r: LinkResult): [string, string, string] => [
      `${name} (${r.transport})`,
      `RTT ${fmtMs(r.median)} (p99 ${fmtMs(r.p99)})`,
      `${fmtRate(r.perSecond)} with 64 in flight`,
    ];
    table("browser links (headless Chromium tabs, a Node seed; loopback and a veth pair)", [
      row("tab → Node over WebSockets", ws),
      row("tab ↔ tab, direct WebRTC", direct),
      row("tab ↔ tab, relayed through the seed", relayed),
    ]);
    console.log(
      `  target: tab↔tab direct RTT ≤ 1 ms median → ${fmtMs(direct.median)} (${direct.median <= 1 ? "met" : "MISSED"}); ` +
        `relayed / direct: ${(relayed.median / direct.median).toFixed(2)}× RTT`,
    );

    await setupRounds(browser, seed.url!, echoClass, "with 3 busy tabs open");
  } finally {
    await browser.close();
    await seed.stop();
  }
}
