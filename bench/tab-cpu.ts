/**
 * A dashboard tab's CPU with three tabs open (issue 11): a seed started the way `npm start` starts it (the built
 * dashboard, the demo's actors), 8 more Node members in this process with a little churn (one leaves and one joins
 * every 4 s), and 3 dashboard tabs in Debian's Chromium. Over a fixed window it measures, for each tab:
 *   - main-thread CPU: the deltas of CDP `Performance.getMetrics` TaskDuration and ScriptDuration (thread CPU time
 *     when Chromium offers `timeDomain: "threadTicks"`, else wall time spent in tasks), as % of one core;
 *   - membership traffic as the membership counts it (`system.membershipTraffic()`: the change batches the tab
 *     sends and takes in; gossipsub's own relaying and control frames are not in it);
 *   - wire bytes: everything the tab sends and receives over its WebSockets and WebRTC data channels (counted by a
 *     page init script; the dashboard's own polling and calls included);
 * and the CPU of every Chromium renderer process (CDP `SystemInfo.getProcessInfo`) and of this Node process.
 * It checks that each tab sees every live member before the window and again once the churn has stopped, then
 * times a few more leaves and joins, one at a time, until every tab sees them (polling the tabs every 50 ms).
 * Then the same window again with 3 *bare* tabs instead (a page built here that only calls `pul.init`, no dashboard
 * UI, under dist/bench-bare): the part of a tab's CPU that is its membership rather than the dashboard's own work
 * (BENCH_TAB_CPU_BARE=0 skips it).
 *
 *   npm run bench -- tab-cpu     (goes through `node e2e/run.mjs --bench=tab-cpu`: builds, then a network namespace)
 *   BENCH_TAB_CPU_WINDOW_S=60 …  a longer window (default 30 s)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as pul from "pulsing";
import { chromium, type Browser, type CDPSession, type Page } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../e2e/chromium.js";
import { hostDemoActors } from "../examples/demo-actors.js";
import { startSeed } from "../src/node/index.js";
import { serveStatic } from "../src/node/static-server.js";
import { within } from "./harness.js";

const DASHBOARD = fileURLToPath(new URL("../dist/demo", import.meta.url));
const TABS = 3;
const NODE_MEMBERS = 8;
const CHURN_EVERY_MS = 4_000;
const WARMUP_MS = 10_000;
const WINDOW_MS = 1000 * (Number(process.env.BENCH_TAB_CPU_WINDOW_S) || 30);
const SEE_ALL_TIMEOUT_MS = 30_000;
const CONVERGE_TIMEOUT_MS = 20_000;
/** After the window: churn steps one at a time, each timed until every tab sees it. */
const LAG_STEPS = 5;
const LAG_TIMEOUT_MS = 15_000;
/** How long closed tabs may take to be declared dead (the default failure detection takes ~3 s). */
const CLOSED_TAB_TIMEOUT_MS = 20_000;

/** Counts the bytes of the page's WebSockets and WebRTC data channels (runs before the page's own scripts). */
const WIRE_COUNTER = `(() => {
  const wire = { wsIn: 0, wsOut: 0, rtcIn: 0, rtcOut: 0 };
  globalThis.__wire = wire;
  const size = (d) => (typeof d === "string" ? d.length : d instanceof Blob ? d.size : (d && d.byteLength) || 0);
  const WS = globalThis.WebSocket;
  const wsSend = WS.prototype.send;
  WS.prototype.send = function (d) { wire.wsOut += size(d); return wsSend.call(this, d); };
  globalThis.WebSocket = class extends WS {
    constructor(...args) { super(...args); this.addEventListener("message", (e) => { wire.wsIn += size(e.data); }); }
  };
  if (typeof RTCPeerConnection === "function") {
    const dcSend = RTCDataChannel.prototype.send;
    RTCDataChannel.prototype.send = function (d) { wire.rtcOut += size(d); return dcSend.call(this, d); };
    const watch = (ch) => ch.addEventListener("message", (e) => { wire.rtcIn += size(e.data); });
    const create = RTCPeerConnection.prototype.createDataChannel;
    RTCPeerConnection.prototype.createDataChannel = function (...args) { const ch = create.apply(this, args); watch(ch); return ch; };
    const PC = RTCPeerConnection;
    globalThis.RTCPeerConnection = class extends PC {
      constructor(...args) { super(...args); this.addEventListener("datachannel", (e) => watch(e.channel)); }
    };
  }
})();`;

interface Wire {
  wsIn: number;
  wsOut: number;
  rtcIn: number;
  rtcOut: number;
}
interface Traffic {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}
type PageGlobals = { system: pul.ActorSystem & { membershipTraffic(): Traffic }; __wire: Wire };

interface BenchTab {
  page: Page;
  cdp: CDPSession;
  nodeId: string;
  errors: string[];
}

interface TabSnapshot {
  /** CDP Timestamp (s) */
  at: number;
  task: number;
  script: number;
  traffic: Traffic;
  wire: Wire;
}

let timeDomain: "threadTicks" | "timeTicks" = "threadTicks";

async function openTab(browser: Browser, url: string): Promise<BenchTab> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // Functions passed to page.evaluate from tsx-compiled code refer to esbuild's __name helper (see e2e/harness.ts).
  await page.addInitScript({ content: "globalThis.__name = (f) => f;" });
  await page.addInitScript({ content: WIRE_COUNTER });
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.ready === "true", null, { timeout: 30_000 }).catch((error: unknown) => {
    throw new Error(`the dashboard tab did not join within 30 s; page errors: ${JSON.stringify(errors)}`, { cause: error });
  });
  const nodeId = await page.evaluate(() => (globalThis as unknown as PageGlobals).system.nodeId);
  const cdp = await context.newCDPSession(page);
  try {
    await cdp.send("Performance.enable", { timeDomain });
  } catch {
    timeDomain = "timeTicks";
    await cdp.send("Performance.enable", { timeDomain });
  }
  return { page, cdp, nodeId, errors };
}

async function snapshot(tab: BenchTab): Promise<TabSnapshot> {
  // One run hung at a CDP call on a loaded machine: every call here is bounded.
  const [{ metrics }, inPage] = await within(
    20_000,
    `a snapshot of tab ${tab.nodeId.slice(-6)}`,
    Promise.all([
      tab.cdp.send("Performance.getMetrics"),
      tab.page.evaluate(() => {
        const g = globalThis as unknown as PageGlobals;
        return { traffic: g.system.membershipTraffic(), wire: { ...g.__wire } };
      }),
    ]),
  );
  const metric = (name: string): number => metrics.find((m) => m.name === name)?.value ?? NaN;
  return { at: metric("Timestamp"), task: metric("TaskDuration"), script: metric("ScriptDuration"), ...inPage };
}

/** cpuTime (s) of each Chromium process, by "type pid". */
async function processCpu(browser: Browser): Promise<Map<string, number>> {
  const session = await browser.newBrowserCDPSession();
  try {
    const { processInfo } = (await within(20_000, "Chromium's process info", session.send("SystemInfo.getProcessInfo"))) as { processInfo: Array<{ type: string; id: number; cpuTime: number }> };
    return new Map(processInfo.map((p) => [`${p.type} ${p.id}`, p.cpuTime]));
  } finally {
    await session.detach();
  }
}

const aliveIds = (members: pul.Member[]): string[] => members.filter((m) => m.status === "alive").map((m) => m.nodeId).sort();
const short = (id: string): string => id.slice(-6);

async function tabView(tab: BenchTab): Promise<Array<[string, string, string]>> {
  return tab.page.evaluate(() =>
    (globalThis as unknown as PageGlobals).system.members().map((m) => [m.nodeId, m.status, m.runtime] as [string, string, string]),
  );
}

/** Waits until every tab's live members are `expected()`; the ms it took per tab (-1: not within `timeoutMs`), and what differed. */
async function waitSeeAll(tabs: BenchTab[], expected: () => string[], timeoutMs: number): Promise<{ ms: number[]; problems: string[] }> {
  const start = performance.now();
  const ms = tabs.map(() => -1);
  let last: string[] = [];
  while (performance.now() - start < timeoutMs) {
    const want = expected();
    last = [];
    await Promise.all(
      tabs.map(async (tab, i) => {
        if (ms[i]! >= 0) return;
        const view = await tabView(tab);
        const alive = view.filter(([, s]) => s === "alive").map(([id]) => id).sort();
        if (alive.join() === want.join()) ms[i] = performance.now() - start;
        else {
          const missing = want.filter((id) => !alive.includes(id)).map((id) => `${short(id)}:${view.find(([v]) => v === id)?.[1] ?? "absent"}`);
          const extra = alive.filter((id) => !want.includes(id)).map(short);
          last.push(`tab ${short(tab.nodeId)} misses [${missing.join(" ")}] has extra [${extra.join(" ")}]`);
        }
      }),
    );
    if (ms.every((t) => t >= 0)) return { ms, problems: [] };
    await sleep(200);
  }
  return { ms, problems: last };
}

/** Per tab, the ms until `seen` holds of its member view (polling every 50 ms; -1: not within `timeoutMs`). */
async function untilEachSees(tabs: BenchTab[], seen: (alive: string[]) => boolean, timeoutMs: number): Promise<number[]> {
  const start = performance.now();
  const ms = tabs.map(() => -1);
  while (performance.now() - start < timeoutMs && ms.some((t) => t < 0)) {
    await Promise.all(
      tabs.map(async (tab, i) => {
        if (ms[i]! >= 0) return;
        const alive = (await tabView(tab)).filter(([, status]) => status === "alive").map(([id]) => id);
        if (seen(alive)) ms[i] = performance.now() - start;
      }),
    );
    if (ms.some((t) => t < 0)) await sleep(50);
  }
  return ms;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmtB = (bytesPerS: number): string => (bytesPerS >= 10_000 ? `${(bytesPerS / 1000).toFixed(1)} kB/s` : `${bytesPerS.toFixed(0)} B/s`);

function printTable(title: string, head: string[], rows: string[][]): void {
  console.log(`\n${title}`);
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  for (const row of all) console.log(`  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("   ")}`);
}

/** A page that is only a cluster member (no dashboard UI): what a tab costs for being a member. Built by `buildBarePage`. */
const BARE_PAGE_HTML = `<!doctype html>
<html><head><meta charset="utf-8" /><title>bare member</title></head>
<body><script type="module" src="./main.ts"></script></body></html>
`;
const BARE_PAGE_MAIN = `import * as pul from "pulsing";
const config = await (await fetch("/config.json", { cache: "no-store" })).json();
const system = await pul.init({ seeds: config.seeds });
Object.assign(globalThis, { pul, system });
document.body.dataset.ready = "true";
`;

/** Builds the bare member page with this checkout's sources (as the dashboard is built), into dist/bench-bare. */
async function buildBarePage(): Promise<string> {
  const { build } = await import("vite");
  const { BROWSER_CONDITIONS, forbidNodeBuiltins } = await import("../scripts/vite-shared.js");
  // Inside the package (dist/ is this checkout's own), so that "pulsing" resolves to this checkout's sources.
  const source = fileURLToPath(new URL("../dist/bench-bare-page", import.meta.url));
  const outDir = fileURLToPath(new URL("../dist/bench-bare", import.meta.url));
  mkdirSync(source, { recursive: true });
  writeFileSync(join(source, "index.html"), BARE_PAGE_HTML);
  writeFileSync(join(source, "main.ts"), BARE_PAGE_MAIN);
  await build({
    root: source,
    configFile: false,
    logLevel: "warn",
    resolve: { conditions: BROWSER_CONDITIONS },
    plugins: [forbidNodeBuiltins()],
    build: { outDir, emptyOutDir: true, target: "es2022", rolldownOptions: { output: { keepNames: true } } },
  });
  return outDir;
}

interface TabRow {
  cpu: number;
  script: number;
  memIn: number;
  memOut: number;
  msgIn: number;
  msgOut: number;
  wsIn: number;
  wsOut: number;
  rtcIn: number;
  rtcOut: number;
}

interface Phase {
  rows: TabRow[];
  median: TabRow;
  connections: string[][];
  renderers: number[];
  others: Array<readonly [string, number]>;
  nodeCpu: number;
  wallS: number;
  churnSteps: number;
  seeAll: { ms: number[]; problems: string[] };
  settled: { ms: number[]; problems: string[] };
  seedSeesAll: boolean;
  seedAlive: number;
}

/**
 * Uncaught `StreamStateError`s of this process (a write on a relayed connection whose relay stream has closed, from
 * a libp2p microtask: seen when tabs close). Noted and reported rather than ending the benchmark; anything else ends it.
 */
const uncaught: string[] = [];

export async function benchTabCpu(): Promise<void> {
  const onUncaught = (error: Error): void => {
    if (error?.name !== "StreamStateError") {
      console.error(error);
      process.exit(1);
    }
    uncaught.push(`${error.name}: ${error.message} ${(error.stack ?? "").split("\n").slice(1, 4).map((l) => l.trim()).join(" < ")}`);
  };
  process.on("uncaughtException", onUncaught);
  const tcpOf = (system: pul.ActorSystem): string => system.addrs.find((a) => a.startsWith("/ip4/127.0.0.1/tcp/") && !a.includes("/ws"))!;
  const withBare = process.env.BENCH_TAB_CPU_BARE !== "0";
  const bareRoot = withBare ? await buildBarePage() : undefined;
  const seed = await startSeed({ addr: "127.0.0.1:0", dashboard: { root: DASHBOARD, port: 0, host: "127.0.0.1" } });
  await hostDemoActors(seed.system);
  // The bare page's /config.json is the seed's, as the seed serves it (its addresses and two other members').
  let bareConfig: unknown = {};
  const bare =
    bareRoot === undefined ? undefined : await serveStatic({ root: bareRoot, host: "127.0.0.1", port: 0, json: { "/config.json": () => bareConfig } });
  let joined = 0;
  const startMember = async (): Promise<pul.ActorSystem> => {
    const system = await pul.actorSystem({ addr: "127.0.0.1:0", seeds: [tcpOf(seed.system)] });
    await system.spawn(new (class BenchWorker { ping(): string { return "pong"; } })(), { name: `bench/worker-${joined++}` });
    return system;
  };
  const members: pul.ActorSystem[] = [];
  let browser: Browser | undefined;
  let churning = false;
  let churnLoop: Promise<void> = Promise.resolve();
  let churnSteps = 0;

  /** Opens TABS tabs of `url`, churns, measures them over the window; leaves the tabs open. */
  const measurePhase = async (tabs: BenchTab[], url: string, beforeOpen: () => Promise<void>): Promise<Phase> => {
    for (let i = 0; i < TABS; i++) {
      await beforeOpen();
      tabs.push(await openTab(browser!, url));
    }
    const expected = (): string[] => [seed.system.nodeId, ...members.map((m) => m.nodeId), ...tabs.map((t) => t.nodeId)].sort();
    const seeAll = await waitSeeAll(tabs, expected, SEE_ALL_TIMEOUT_MS);

    // Churn: the oldest member leaves, a new one joins; at most one step per CHURN_EVERY_MS, bounded in count.
    const maxSteps = churnSteps + Math.ceil((WARMUP_MS + WINDOW_MS) / CHURN_EVERY_MS) + 2;
    churning = true;
    churnLoop = (async () => {
      while (churning && churnSteps < maxSteps) {
        const t = performance.now();
        const leaving = members.shift()!;
        await within(10_000, "a member's shutdown", leaving.shutdown()).catch((e: unknown) => console.warn(`! ${(e as Error).message}`));
        members.push(await within(20_000, "a member's start", startMember()));
        churnSteps++;
        const rest = CHURN_EVERY_MS - (performance.now() - t);
        if (rest > 0 && churning) await sleep(rest);
      }
    })();
    await sleep(WARMUP_MS);

    const [before, procBefore] = await Promise.all([Promise.all(tabs.map(snapshot)), processCpu(browser!)]);
    const nodeCpuBefore = process.cpuUsage();
    const stepsBefore = churnSteps;
    const t0 = performance.now();
    await sleep(WINDOW_MS);
    const [after, procAfter] = await Promise.all([Promise.all(tabs.map(snapshot)), processCpu(browser!)]);
    const nodeCpu = process.cpuUsage(nodeCpuBefore);
    const wallS = (performance.now() - t0) / 1000;
    const steps = churnSteps - stepsBefore;
    const connections = await Promise.all(
      tabs.map((tab) =>
        tab.page.evaluate(() =>
          (globalThis as unknown as PageGlobals).system.connections().map((c) => `${c.transport}${c.relayed ? "(relayed)" : ""}`),
        ),
      ),
    );
    churning = false;
    await churnLoop;
    const settled = await waitSeeAll(tabs, expected, CONVERGE_TIMEOUT_MS);
    const seedView = aliveIds(seed.system.members());

    const rows = tabs.map((_, i): TabRow => {
      const a = before[i]!;
      const b = after[i]!;
      const dt = b.at - a.at;
      const w = (k: keyof Wire): number => (b.wire[k] - a.wire[k]) / dt;
      return {
        cpu: (100 * (b.task - a.task)) / dt,
        script: (100 * (b.script - a.script)) / dt,
        memIn: (b.traffic.bytesIn - a.traffic.bytesIn) / dt,
        memOut: (b.traffic.bytesOut - a.traffic.bytesOut) / dt,
        msgIn: (b.traffic.messagesIn - a.traffic.messagesIn) / dt,
        msgOut: (b.traffic.messagesOut - a.traffic.messagesOut) / dt,
        wsIn: w("wsIn"),
        wsOut: w("wsOut"),
        rtcIn: w("rtcIn"),
        rtcOut: w("rtcOut"),
      };
    });
    const med = Object.fromEntries(Object.keys(rows[0]!).map((k) => [k, median(rows.map((r) => r[k as keyof TabRow]))])) as unknown as TabRow;
    const procCpu = [...procAfter].map(([key, cpu]) => [key, (100 * (cpu - (procBefore.get(key) ?? 0))) / wallS] as const);
    return {
      rows,
      median: med,
      connections,
      renderers: procCpu.filter(([k]) => k.startsWith("renderer")).map(([, c]) => c).sort((x, y) => y - x),
      others: procCpu.filter(([k]) => !k.startsWith("renderer")),
      nodeCpu: (100 * (nodeCpu.user + nodeCpu.system)) / 1e6 / wallS,
      wallS,
      churnSteps: steps,
      seeAll,
      settled,
      seedSeesAll: seedView.join() === expected().join(),
      seedAlive: seedView.length,
    };
  };

  const report = (what: string, tabs: BenchTab[], p: Phase): void => {
    const cells = (r: TabRow): string[] => [
      `${r.cpu.toFixed(2)} %`,
      `${r.script.toFixed(2)} %`,
      `${fmtB(r.memIn)} / ${fmtB(r.memOut)}`,
      `${r.msgIn.toFixed(2)} / ${r.msgOut.toFixed(2)}`,
      `${fmtB(r.wsIn)} / ${fmtB(r.wsOut)}`,
      `${fmtB(r.rtcIn)} / ${fmtB(r.rtcOut)}`,
    ];
    const seen = (ms: number[]): string => ms.map((t) => (t < 0 ? "NEVER" : `${(t / 1000).toFixed(1)} s`)).join(", ");
    printTable(
      `${what}: ${TABS} tabs, seed + ${NODE_MEMBERS} Node members, ${p.churnSteps} churn steps (1 leave + 1 join) in a ${p.wallS.toFixed(1)} s window ` +
        `(main-thread time: ${timeDomain === "threadTicks" ? "thread CPU" : "wall time in tasks"})`,
      ["tab", "main-thread CPU", "of it script", "membership in / out", "membership msg/s in / out", "wire WS in / out", "wire WebRTC in / out"],
      [...p.rows.map((r, i) => [`tab ${i + 1} (${short(tabs[i]!.nodeId)})`, ...cells(r)]), ["median", ...cells(p.median)]],
    );
    console.log(
      `  all ${TABS + NODE_MEMBERS + 1} members seen by each tab after opening: ${seen(p.seeAll.ms)}` +
        (p.seeAll.problems.length > 0 ? `\n  PROBLEM: ${p.seeAll.problems.join("\n  PROBLEM: ")}` : ""),
    );
    console.log(`  tab connections at the end: ${p.connections.map((c, i) => `tab ${i + 1}: ${c.length} [${c.join(" ")}]`).join("; ")}`);
    console.log(
      `  Chromium processes, % of a core: renderers ${p.renderers.map((c) => c.toFixed(1)).join(", ")} ` +
        `(median of the top ${TABS}: ${median(p.renderers.slice(0, TABS)).toFixed(1)}); ${p.others.map(([k, c]) => `${k.split(" ")[0]} ${c.toFixed(1)}`).join(", ")}`,
    );
    console.log(`  this Node process (seed + ${NODE_MEMBERS} members): ${p.nodeCpu.toFixed(1)} % of a core`);
    console.log(
      `  after the churn stopped: tabs see all live members after ${seen(p.settled.ms)}; the seed ${p.seedSeesAll ? "sees all" : `sees ${p.seedAlive} live (PROBLEM)`}` +
        (p.settled.problems.length > 0 ? `\n  PROBLEM: ${p.settled.problems.join("\n  PROBLEM: ")}` : ""),
    );
    const pageErrors = tabs.flatMap((t) => t.errors);
    if (pageErrors.length > 0) console.log(`  page errors: ${JSON.stringify(pageErrors.slice(0, 5))}`);
  };
  const summary = (p: Phase) => ({
    tabCpuMedian: p.median.cpu,
    tabCpu: p.rows.map((r) => r.cpu),
    scriptMedian: p.median.script,
    membershipBytesPerS: p.rows.map((r) => r.memIn + r.memOut),
    membershipMsgsPerS: p.rows.map((r) => r.msgIn + r.msgOut),
    wireBytesPerS: p.rows.map((r) => r.wsIn + r.wsOut + r.rtcIn + r.rtcOut),
    renderers: p.renderers.slice(0, TABS),
    nodeCpu: p.nodeCpu,
    churnSteps: p.churnSteps,
    seeAllMs: p.seeAll.ms,
    settledMs: p.settled.ms,
  });

  const dashboardTabs: BenchTab[] = [];
  const bareTabs: BenchTab[] = [];
  try {
    for (let i = 0; i < NODE_MEMBERS; i++) members.push(await startMember());
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] });

    const dashboard = await measurePhase(dashboardTabs, seed.url!, async () => {});
    report("dashboard tab CPU", dashboardTabs, dashboard);

    // Leaves and joins one at a time: how long until every tab sees each (from shutdown() / actorSystem() returning).
    const leaveLags: number[] = [];
    const joinLags: number[] = [];
    for (let i = 0; i < LAG_STEPS; i++) {
      const leaving = members.shift()!;
      await within(10_000, "a member's shutdown", leaving.shutdown()).catch((e: unknown) => console.warn(`! ${(e as Error).message}`));
      leaveLags.push(...(await untilEachSees(dashboardTabs, (alive) => !alive.includes(leaving.nodeId), LAG_TIMEOUT_MS)));
      const joiner = await within(20_000, "a member's start", startMember());
      members.push(joiner);
      joinLags.push(...(await untilEachSees(dashboardTabs, (alive) => alive.includes(joiner.nodeId), LAG_TIMEOUT_MS)));
      await sleep(1_000);
    }
    const fmtLags = (lags: number[]): string => {
      const ok = lags.filter((t) => t >= 0);
      const missed = lags.length - ok.length;
      return ok.length === 0
        ? `never (${missed} of ${lags.length})`
        : `median ${(median(ok) / 1000).toFixed(2)} s, max ${(Math.max(...ok) / 1000).toFixed(2)} s${missed > 0 ? `, ${missed} of ${lags.length} NOT SEEN within ${LAG_TIMEOUT_MS / 1000} s` : ""}`;
    };
    console.log(`  ${LAG_STEPS} more leaves and joins, one at a time, until each tab sees them: leave ${fmtLags(leaveLags)}; join ${fmtLags(joinLags)}`);

    let barePhase: Phase | undefined;
    let closedTabsNotDead = -1;
    if (bare !== undefined) {
      // The same again with pages that are only members: the dashboard tabs close first (the cluster keeps its size).
      const closed = dashboardTabs.splice(0);
      for (const tab of closed) await tab.page.context().close();
      // How the rest of the cluster takes it: each closed tab's status on the seed and on a Node member, over time.
      const watchers = [seed.system, members.at(-1)!];
      const timelines = closed.map(() => watchers.map(() => [] as string[]));
      const closedAt = performance.now();
      const statusOf = (system: pul.ActorSystem, id: string): string => system.members().find((m) => m.nodeId === id)?.status ?? "gone";
      while (performance.now() - closedAt < CLOSED_TAB_TIMEOUT_MS) {
        const t = ((performance.now() - closedAt) / 1000).toFixed(1);
        closed.forEach((tab, i) =>
          watchers.forEach((w, j) => {
            const status = statusOf(w, tab.nodeId);
            const line = timelines[i]![j]!;
            if (line.at(-1)?.split(" ")[0] !== status) line.push(`${status} ${t}s`);
          }),
        );
        if (closed.every((tab) => watchers.every((w) => ["dead", "gone"].includes(statusOf(w, tab.nodeId))))) break;
        await sleep(100);
      }
      const stillAlive = closed.filter((tab) => watchers.some((w) => !["dead", "gone"].includes(statusOf(w, tab.nodeId))));
      console.log(
        `\nclosed the ${closed.length} dashboard tabs: their status over time (on the seed | on a Node member): ` +
          closed.map((tab, i) => `${short(tab.nodeId)}: ${timelines[i]![0]!.join(" → ")} | ${timelines[i]![1]!.join(" → ")}`).join("; ") +
          (stillAlive.length > 0 ? `\n  PROBLEM: ${stillAlive.length} closed tab(s) not dead after ${CLOSED_TAB_TIMEOUT_MS / 1000} s` : ""),
      );
      closedTabsNotDead = stillAlive.length;
      await sleep(2_000);
      barePhase = await measurePhase(bareTabs, bare.url, async () => {
        bareConfig = await (await fetch(new URL("/config.json", seed.url!))).json();
      });
      report("bare member tab CPU (a page that only joins: pul.init, no dashboard UI)", bareTabs, barePhase);
    }
    if (uncaught.length > 0) console.log(`  PROBLEM: ${uncaught.length} uncaught exception(s) in this process, first: ${uncaught[0]}`);
    console.log(
      `RESULT ${JSON.stringify({
        dashboard: summary(dashboard),
        leaveLagMs: leaveLags,
        joinLagMs: joinLags,
        ...(barePhase !== undefined ? { bare: summary(barePhase) } : {}),
        uncaught: uncaught.length,
        closedTabsNotDead,
        timeDomain,
      })}`,
    );
  } finally {
    churning = false;
    await churnLoop.catch(() => {});
    await browser?.close().catch(() => {});
    await Promise.all(members.map((m) => within(10_000, "a member's shutdown", m.shutdown()).catch(() => {})));
    if (bare !== undefined) await new Promise<void>((done) => bare.server.close(() => done()));
    bare?.server.closeAllConnections();
    await within(10_000, "the seed's stop", seed.stop()).catch(() => {});
    process.off("uncaughtException", onUncaught);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await within(15 * 60_000, "the tab CPU benchmark", benchTabCpu());
  process.exit(0);
}
