/**
 * The live dashboard: opening the page makes this tab a node of the cluster (`pul.init({ seeds })` with the
 * WebSocket addresses `/config.json` lists: the serving seed's, then a few other seeds', so that the tab stays in the
 * cluster while one of them restarts), then shows the membership, the actors, message rates, queues, topics and the
 * cluster's agents, and lets you spawn, call, stream, chat and run an agent pipeline across nodes.
 *
 * Tests rely on `globalThis.pul`, `globalThis.pulNode`, `globalThis.system`, `globalThis.dashboard` and `document.body.dataset.ready === "true"`.
 */
import * as pul from "pulsing";
import * as pulNode from "pulsing/node";
import { App, type DashboardConfig } from "./app.js";
import { h, replaceChildren } from "./dom.js";
import { ActorsPanel } from "./panels/actors.js";
import { AgentsPanel } from "./panels/agents.js";
import { CallPanel } from "./panels/call.js";
import { ChatPanel } from "./panels/chat.js";
import { SelfInfo } from "./panels/header.js";
import { MembershipPanel } from "./panels/membership.js";
import { QueuesPanel } from "./panels/queues.js";
import { RatesPanel } from "./panels/rates.js";
import { StreamPanel } from "./panels/stream.js";
import { TopicsPanel } from "./panels/topics.js";
import { WorkersPanel } from "./panels/workers.js";
import { QueuesTopicsPoller } from "./queues-topics.js";
import { describeError } from "./util.js";

const REFRESH_MS = 1_000;
/** `listAgents()` asks every node: every few seconds is enough. */
const AGENTS_REFRESH_MS = 3_000;

const globals = globalThis as Record<string, unknown>;
globals.pul = pul;
// What a browser build of `pulsing/node` has: Web Workers as nodes, and processes on Node nodes.
globals.pulNode = pulNode;

const root = document.querySelector<HTMLElement>("#app")!;
const selfEl = document.querySelector<HTMLElement>("#self")!;

async function loadConfig(): Promise<DashboardConfig> {
  const response = await fetch("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`GET /config.json: ${response.status} ${response.statusText}`);
  return (await response.json()) as DashboardConfig;
}

/** The passphrase from `#secret=…`; on a protected cluster without one, asks for it. */
async function passphrase(config: DashboardConfig): Promise<string | undefined> {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("secret") ?? undefined;
  if (!config.protected || fromHash !== undefined) return fromHash;
  selfEl.textContent = "protected cluster: passphrase needed";
  return new Promise((resolve) => {
    const input = h("input", { id: "secret", type: "password", placeholder: "cluster passphrase", autocomplete: "off", required: true });
    const form = h(
      "form",
      {
        class: "card gate",
        onsubmit: (e: SubmitEvent) => {
          e.preventDefault();
          history.replaceState(null, "", `#secret=${encodeURIComponent(input.value)}`);
          resolve(input.value);
        },
      },
      h("h2", {}, "This cluster is protected"),
      h("p", { class: "muted" }, "Enter its passphrase (or open the page with ", h("code", {}, "#secret=…"), " in the URL)."),
      h("div", { class: "row" }, input, h("button", { class: "btn primary", type: "submit" }, "Join")),
    );
    replaceChildren(root, form);
    input.focus();
  });
}

function showFatal(error: unknown): void {
  const e = describeError(error);
  document.body.dataset.ready = "error";
  replaceChildren(
    root,
    h(
      "section",
      { class: "card gate", id: "fatal" },
      h("h2", {}, "Could not join the cluster"),
      h("p", {}, h("span", { class: "badge err" }, e.name), " ", e.message),
      h(
        "div",
        { class: "row" },
        h(
          "button",
          {
            class: "btn primary",
            type: "button",
            onclick: () => {
              // Drop a passphrase that did not work, so the page asks again.
              history.replaceState(null, "", location.pathname + location.search);
              location.reload();
            },
          },
          "Try again",
        ),
      ),
    ),
  );
  selfEl.textContent = "not connected";
}

/** Runs `fn` every `ms`, never two at once. */
function every(ms: number, fn: () => unknown): void {
  let busy = false;
  const run = async () => {
    if (busy) return;
    busy = true;
    try {
      await fn();
    } catch (error) {
      console.warn("dashboard refresh failed", error);
    } finally {
      busy = false;
    }
  };
  void run();
  setInterval(run, ms);
}

async function main(): Promise<void> {
  const config = await loadConfig();
  const secret = await passphrase(config);
  selfEl.textContent = "joining the cluster…";
  const started = performance.now();
  // `#webrtc=off` keeps this tab's links to other tabs relayed (benchmarks compare the two paths);
  // `#directwait=<ms>` sets how long a call waits for a direct connection before it goes relayed.
  const hash = new URLSearchParams(location.hash.slice(1));
  const directWait = hash.get("directwait");
  const webrtc = hash.get("webrtc") === "off" ? false : directWait !== null ? { directWaitMs: Number(directWait) } : true;
  const system = await pul.init({ seeds: config.seeds, webrtc, ...(secret !== undefined ? { passphrase: secret } : {}) });
  const joinMs = performance.now() - started;
  globals.system = system;
  // What others could dial the moment init() returned (tests check that a tab is reachable from then on).
  globals.addrsAtInit = system.addrs;

  const app = new App(system, config);
  const membership = new MembershipPanel(app);
  const actors = new ActorsPanel(app);
  const rates = new RatesPanel(app);
  const call = new CallPanel(app);
  const stream = new StreamPanel(app);
  const chat = new ChatPanel(app);
  const streams = new QueuesTopicsPoller(app);
  const queues = new QueuesPanel(app);
  const topics = new TopicsPanel(app);
  const agents = new AgentsPanel(app);
  const workers = new WorkersPanel(app);
  const self = new SelfInfo(app, selfEl, joinMs);
  call.onSpawned = (name) => actors.highlight(name);
  globals.dashboard = { app, membership, actors, rates, call, stream, chat, queues, topics, agents, workers };

  replaceChildren(
    root,
    h("div", { class: "grid" }, membership.element, actors.element, rates.element, call.element, stream.element, chat.element, agents.element, workers.element, queues.element, topics.element),
  );

  const onMembership = () => {
    membership.refresh();
    call.refreshOptions();
    void actors.refresh();
  };
  for (const type of ["member:up", "member:suspect", "member:down"]) system.addEventListener(type, onMembership);

  every(REFRESH_MS, () => {
    self.refresh();
    membership.refresh();
    call.refreshOptions();
  });
  every(REFRESH_MS, () => actors.refresh());
  every(REFRESH_MS, () => rates.poll());
  every(REFRESH_MS, async () => {
    await streams.poll();
    queues.render(streams);
    topics.render(streams);
  });
  document.body.dataset.ready = "true";
  void chat.start();
  // This tab's editor agent first (so that the first listing shows it), then the cluster's agents every few seconds.
  void agents
    .start()
    .catch((error: unknown) => console.warn("could not start this tab's editor agent", error))
    .finally(() => every(AGENTS_REFRESH_MS, () => agents.refresh()));
}

main().catch((error: unknown) => {
  console.error(error);
  showFatal(error);
});
