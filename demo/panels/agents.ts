import * as pul from "pulsing";
import { listAgents, type AgentInfo } from "pulsing/agent";
import { Editor, PIPELINE, editorName, type PipelineEvent } from "../../examples/pipeline-agents.js";
import type { App } from "../app.js";
import { h, replaceChildren } from "../dom.js";
import { RUNTIME_LABEL, describeError, shortId } from "../util.js";
import { card } from "./card.js";

type RunState = "idle" | "running" | "streaming" | "done" | "cancelled" | "error";

/** How long each node has to answer `listAgents()`. */
const LIST_TIMEOUT_MS = 2_000;

/**
 * Agents (`#agents`, `#pipeline-*`): every agent of the cluster from `listAgents()` (name, role, goal, node, runtime),
 * and the example pipeline (examples/pipeline-agents.ts) run from this tab. The tab hosts its own agent, an `Editor`
 * (`tab/<shortId>/editor`), which orchestrates the Node-side agents `npm start` puts on the seed: it asks the
 * researcher for notes, streams the writer's draft on token by token, asks the reviewer for a score. The panel reads
 * the editor's actor stream and renders each token as it arrives; Stop cancels that stream, which cancels the
 * writer's stream and its model request on the seed. The tab never calls the model endpoint itself.
 */
export class AgentsPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #list: HTMLElement;
  readonly #topic: HTMLInputElement;
  readonly #run: HTMLButtonElement;
  readonly #stop: HTMLButtonElement;
  readonly #steps: HTMLElement;
  readonly #notes: HTMLElement;
  readonly #output: HTMLElement;
  readonly #review: HTMLElement;
  readonly #status: HTMLElement;
  #agents: Record<string, AgentInfo> = {};
  #listError: string | undefined;
  #signature = "";
  #editor: Promise<pul.ActorProxy<Editor>> | undefined;
  #stream: pul.ActorStream<PipelineEvent> | undefined;

  constructor(app: App) {
    this.#app = app;
    this.#list = h("div", { id: "agents", class: "agents" }, h("p", { class: "muted small" }, "asking every node for its agents…"));
    this.#topic = h("input", { id: "pipeline-topic", value: "actor runtimes in the browser", placeholder: "topic", autocomplete: "off" });
    this.#run = h("button", { id: "pipeline-run", type: "submit", class: "btn primary" }, "Run the pipeline");
    this.#stop = h("button", { id: "pipeline-stop", type: "button", class: "btn danger", disabled: true, onclick: () => this.stop() }, "Stop");
    this.#steps = h("ol", { id: "pipeline-steps", class: "pipeline-steps" });
    this.#notes = h("pre", { id: "pipeline-notes", class: "pipeline-notes", hidden: true });
    this.#output = h("div", { id: "pipeline-output", class: "stream-output pipeline-output", "data-state": "idle", "data-tokens": 0, "aria-live": "polite" });
    this.#review = h("div", { id: "pipeline-review", class: "pipeline-review", hidden: true });
    this.#status = h("div", { id: "pipeline-status", class: "muted small" }, "this tab's editor agent calls the pipeline's agents on Node; the tab never calls the model");
    this.element = card(
      { id: "agents-card", title: "Agents", subtitle: "every node's agents (listAgents) · a pipeline run from this tab, its draft streamed token by token" },
      h(
        "div",
        { class: "agents-layout" },
        h("div", { class: "agents-list" }, this.#list),
        h(
          "div",
          { class: "agents-pipeline" },
          h(
            "form",
            {
              id: "pipeline-form",
              class: "row stream-form",
              onsubmit: (e: SubmitEvent) => {
                e.preventDefault();
                void this.run();
              },
            },
            h("label", { class: "field grow" }, h("span", {}, "topic"), this.#topic),
            this.#run,
            this.#stop,
          ),
          this.#steps,
          this.#notes,
          this.#output,
          this.#review,
          this.#status,
        ),
      ),
    );
  }

  /** Spawns this tab's editor agent (so that `listAgents()` on every node shows an agent in a tab). */
  start(): Promise<pul.ActorProxy<Editor>> {
    this.#editor ??= Editor.spawn({ name: editorName(shortId(this.#app.selfId)) }).catch((error: unknown) => {
      this.#editor = undefined;
      throw error;
    });
    return this.#editor;
  }

  /** Asks every node for its agents (`listAgents()`) and renders them. */
  async refresh(): Promise<void> {
    try {
      this.#agents = await listAgents({ system: this.#app.system, timeout: LIST_TIMEOUT_MS });
      this.#listError = undefined;
    } catch (error) {
      const e = describeError(error);
      this.#listError = `${e.name}: ${e.message}`;
    }
    this.#render();
  }

  #render(): void {
    const { system, selfId, seedIds } = this.#app;
    const runtimes = new Map(system.members().map((m) => [m.nodeId, m.runtime] as const));
    const rows = Object.entries(this.#agents).map(([name, info]) => ({
      name,
      info,
      runtime: info.nodeId === selfId ? ("browser" as const) : runtimes.get(info.nodeId),
    }));
    const signature = JSON.stringify([rows.map((r) => [r.name, r.info.actorId, r.info.role, r.info.goal, r.runtime]), this.#listError]);
    if (signature === this.#signature) return;
    this.#signature = signature;
    const hasPipeline = Object.values(PIPELINE).every((name) => name in this.#agents);
    replaceChildren(
      this.#list,
      this.#listError !== undefined ? h("p", { class: "error small" }, this.#listError) : null,
      rows.length === 0
        ? h("p", { class: "muted small", id: "agents-empty" }, "no agents yet")
        : h(
            "table",
            { class: "actor-table" },
            h("thead", {}, h("tr", {}, h("th", {}, "agent"), h("th", {}, "role"), h("th", {}, "goal"), h("th", {}, "node"), h("th", {}, "runtime"))),
            h(
              "tbody",
              {},
              rows.map(({ name, info, runtime }) =>
                h(
                  "tr",
                  { "data-agent-name": name, "data-role": info.role, "data-node-id": info.nodeId, "data-runtime": runtime ?? "unknown", title: info.backstory || undefined },
                  h("td", {}, h("span", { class: "actor-name" }, name)),
                  h("td", {}, info.role),
                  h("td", { class: "muted" }, info.goal),
                  h(
                    "td",
                    {},
                    h("code", { class: "node-id", title: info.nodeId }, shortId(info.nodeId)),
                    info.nodeId === selfId ? h("span", { class: "tag tag-self" }, "this tab") : seedIds.has(info.nodeId) ? h("span", { class: "tag tag-seed" }, "seed") : null,
                  ),
                  h("td", {}, runtime === undefined ? h("span", { class: "muted" }, "?") : h("span", { class: `rt rt-${runtime}` }, RUNTIME_LABEL[runtime])),
                ),
              ),
            ),
          ),
      hasPipeline
        ? null
        : h("p", { class: "muted small", id: "agents-no-pipeline" }, "the pipeline's agents (", Object.values(PIPELINE).join(", "), ") are not running: ", h("code", {}, "npm start"), " hosts them on its seed"),
    );
  }

  /** Runs the pipeline on the topic: the editor's events, tokens rendered as they arrive. */
  async run(): Promise<void> {
    const previous = this.#stream;
    this.#stream = undefined;
    previous?.cancel();
    const topic = this.#topic.value.trim() || "actor runtimes in the browser";
    this.#setState("running");
    replaceChildren(this.#steps);
    replaceChildren(this.#output, h("span", { class: "caret" }));
    this.#output.dataset.tokens = "0";
    this.#notes.hidden = true;
    this.#notes.textContent = "";
    this.#review.hidden = true;
    delete this.#review.dataset.score;
    this.#status.textContent = "starting this tab's editor…";
    let tokens = 0;
    let started = 0;
    let stream: pul.ActorStream<PipelineEvent> | undefined;
    try {
      const editor = await this.start();
      stream = editor.run(topic);
      this.#stream = stream;
      this.#status.textContent = `running · editor ${editorName(shortId(this.#app.selfId))} in this tab`;
      const caret = this.#output.querySelector(".caret")!;
      for await (const event of stream) {
        switch (event.kind) {
          case "step":
            this.#step(event.step, event.agent, event.nodeId);
            if (event.step === "write") {
              this.#setState("streaming");
              started = performance.now();
            }
            break;
          case "notes":
            this.#notes.textContent = event.text;
            this.#notes.hidden = false;
            break;
          case "token": {
            tokens++;
            caret.before(h("span", { class: "token" }, event.text));
            this.#output.dataset.tokens = String(tokens);
            const secs = (performance.now() - started) / 1000;
            this.#status.textContent = `streaming the draft · ${tokens} tokens · ${(tokens / Math.max(secs, 0.001)).toFixed(1)} tok/s`;
            this.#output.scrollTop = this.#output.scrollHeight;
            break;
          }
          case "review":
            this.#review.dataset.score = String(event.score);
            this.#review.dataset.verdict = event.verdict;
            replaceChildren(this.#review, h("span", { class: `badge ${event.score >= 7 ? "ok" : "warn"}` }, `score ${event.score}/10`), " ", event.verdict);
            this.#review.hidden = false;
            break;
        }
      }
      if (this.#stream === stream) {
        const cancelled = this.#output.dataset.state === "cancelled";
        if (!cancelled) this.#setState("done");
        this.#status.textContent = `${cancelled ? "stopped" : "done"} · ${tokens} tokens${started > 0 ? ` in ${((performance.now() - started) / 1000).toFixed(1)} s` : ""}`;
      }
    } catch (error) {
      if (this.#stream === stream) {
        const e = describeError(error);
        const cancelled = this.#output.dataset.state === "cancelled";
        this.#setState(cancelled ? "cancelled" : "error");
        if (cancelled) this.#status.textContent = `stopped · ${tokens} tokens`;
        else this.#status.replaceChildren(h("span", { class: "badge err" }, e.name), ` ${e.message}`);
      }
    } finally {
      if (this.#stream === stream) {
        this.#stream = undefined;
        this.#stop.disabled = true;
        this.#run.disabled = false;
      }
    }
  }

  /** Stops the running pipeline: cancels the editor's stream (and with it the writer's and its model request). */
  stop(): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#setState("cancelled");
    stream.cancel();
  }

  #step(step: string, agent: string, nodeId: string): void {
    const member = this.#app.system.members().find((m) => m.nodeId === nodeId);
    const where = `${shortId(nodeId)}${member !== undefined ? ` (${RUNTIME_LABEL[member.runtime]})` : ""}`;
    for (const li of this.#steps.querySelectorAll("li.current")) li.classList.remove("current");
    this.#steps.append(h("li", { class: "current", "data-step": step, "data-node-id": nodeId }, h("b", {}, step), " · ", h("code", {}, agent), " on ", h("code", { title: nodeId }, where)));
  }

  #setState(state: RunState): void {
    this.#output.dataset.state = state;
    const running = state === "running" || state === "streaming";
    this.#stop.disabled = !running;
    this.#run.disabled = state === "running";
  }
}
