import * as pul from "pulsing";
import { spawnWorkers, type WorkerNode } from "pulsing/node";
import { Cruncher, cruncherName } from "../../examples/demo-actors.js";
import type { App } from "../app.js";
import { h, replaceChildren } from "../dom.js";
import { describeError, shortId } from "../util.js";
import { card } from "./card.js";
// Vite bundles the worker module and gives its URL (the `?worker&url` suffix).
import workerUrl from "../web-worker.ts?worker&url";

/** What "count primes" asks for: a few hundred milliseconds of work, which would freeze the page on its thread. */
const PRIME_LIMIT = 20_000_000;

interface WorkerEntry {
  node: WorkerNode;
  name: string;
  cruncher: pul.ActorProxy<Cruncher>;
  result: string;
}

/**
 * Web Workers as nodes (`#workers-card`): starts a worker node in this tab (`spawnWorkers`), spawns a `Cruncher`
 * into it, and calls it; other tabs and nodes reach it by name like any actor. Terminating the worker makes the
 * cluster declare its node dead.
 */
export class WorkersPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #list: HTMLElement;
  readonly #status: HTMLElement;
  readonly #workers = new Map<string, WorkerEntry>();

  constructor(app: App) {
    this.#app = app;
    this.#list = h("ul", { class: "worker-list", id: "worker-list" });
    this.#status = h("p", { class: "muted", id: "workers-status" }, "No worker nodes in this tab yet.");
    const start = h("button", { class: "btn primary", type: "button", id: "worker-start" }, "Start a worker node");
    start.addEventListener("click", () => {
      start.disabled = true;
      this.start()
        .catch((error: unknown) => this.#show(`Could not start a worker: ${describeError(error).message}`))
        .finally(() => (start.disabled = false));
    });
    this.element = card(
      { id: "workers-card", title: "Web Workers", subtitle: "nodes on this tab's worker threads: heavy actors off the page's thread" },
      h("div", { class: "row" }, start),
      this.#status,
      this.#list,
    );
  }

  /** Starts a worker node and spawns a cruncher into it; resolves with the node and the cruncher's name. */
  async start(): Promise<{ nodeId: string; name: string }> {
    this.#show("Starting a worker node…");
    const [node] = await spawnWorkers(1, workerUrl, { system: this.#app.system });
    const name = cruncherName(shortId(node!.nodeId));
    // A worker whose cruncher could not start is of no use here: it goes (it would have no row to stop it from).
    const cruncher = await Cruncher.spawn({ node: node!.nodeId, name }).catch(async (error: unknown) => {
      await node!.terminate();
      throw error;
    });
    this.#workers.set(node!.nodeId, { node: node!, name, cruncher, result: "" });
    this.#show(`${this.#workers.size} worker node(s) in this tab.`);
    this.#render();
    return { nodeId: node!.nodeId, name };
  }

  /** Terminates a worker of this tab: its node is gone, and the cluster declares it dead. */
  async terminate(nodeId: string): Promise<void> {
    const entry = this.#workers.get(nodeId);
    if (entry === undefined) return;
    this.#workers.delete(nodeId);
    await entry.node.terminate();
    this.#show(this.#workers.size > 0 ? `${this.#workers.size} worker node(s) in this tab.` : "No worker nodes in this tab.");
    this.#render();
  }

  async #crunch(entry: WorkerEntry): Promise<void> {
    entry.result = "counting…";
    this.#render();
    try {
      const done = await entry.cruncher.countPrimes(PRIME_LIMIT);
      entry.result = `${done.primes.toLocaleString()} primes below ${done.limit.toLocaleString()} in ${done.ms} ms, off this page's thread`;
    } catch (error) {
      entry.result = `failed: ${describeError(error).message}`;
    }
    this.#render();
  }

  #show(text: string): void {
    this.#status.textContent = text;
  }

  #render(): void {
    replaceChildren(
      this.#list,
      ...[...this.#workers.values()].map((entry) =>
        h(
          "li",
          { "data-worker-node": entry.node.nodeId },
          h("code", { class: "node-id", title: entry.node.nodeId }, shortId(entry.node.nodeId)),
          h("code", { class: "worker-actor" }, entry.name),
          h(
            "span",
            { class: "worker-actions" },
            h("button", { class: "btn", type: "button", onclick: () => void this.#crunch(entry) }, "Count primes"),
            h("button", { class: "btn", type: "button", onclick: () => void this.terminate(entry.node.nodeId) }, "Terminate"),
          ),
          entry.result !== "" ? h("div", { class: "muted worker-result" }, entry.result) : null,
        ),
      ),
    );
  }
}
