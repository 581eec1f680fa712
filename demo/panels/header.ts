import type { App } from "../app.js";
import { h, replaceChildren } from "../dom.js";
import { RUNTIME_LABEL, formatDuration, shortId } from "../util.js";

/** The top bar's right-hand side: who this tab is in the cluster. */
export class SelfInfo {
  readonly #app: App;
  readonly #el: HTMLElement;
  readonly #joinMs: number;

  constructor(app: App, el: HTMLElement, joinMs: number) {
    this.#app = app;
    this.#el = el;
    this.#joinMs = joinMs;
  }

  refresh(): void {
    const { system, selfId, seedIds } = this.#app;
    const seed = [...seedIds][0];
    replaceChildren(
      this.#el,
      h("span", { class: "dot live" }),
      h("span", {}, "this tab is node "),
      h("code", { class: "node-id", title: selfId }, shortId(selfId)),
      h("span", { class: `rt rt-${system.runtime}` }, RUNTIME_LABEL[system.runtime]),
      h("span", { class: "muted" }, `joined in ${this.#joinMs.toFixed(0)} ms${seed !== undefined ? ` via seed ${shortId(seed)}` : ""} · up ${formatDuration(Date.now() - system.startedAt)}`),
    );
  }
}
