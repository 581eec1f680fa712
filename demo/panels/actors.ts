import * as pul from "pulsing";
import type { App } from "../app.js";
import { flash, h, replaceChildren } from "../dom.js";
import { RUNTIME_LABEL, describeError, orderMembers, shortId } from "../util.js";
import { card } from "./card.js";

const HIGHLIGHT_MS = 4_000;

/**
 * Actors on each node (`#actors`): every member with its public actors (from the cluster registry,
 * `system.members()[i].actors`), and this node's own actors in detail from its system actor's `listActors()`.
 */
export class ActorsPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #list: HTMLElement;
  #own: pul.ActorInfo[] = [];
  #ownError: string | undefined;
  #signature = "";
  readonly #highlight = new Map<string, number>();
  #sys: pul.ActorProxy<pul.SystemActor> | undefined;

  constructor(app: App) {
    this.#app = app;
    this.#list = h("div", { id: "actors", class: "actors" });
    this.element = card({ id: "actors-card", title: "Actors", subtitle: "public actors per node · this tab's in detail (listActors)" }, this.#list);
    app.on("focus-node", (nodeId) => {
      const el = this.#list.querySelector(`[data-node-id="${CSS.escape(nodeId)}"]`);
      if (el !== null) {
        el.scrollIntoView({ block: "nearest", behavior: "smooth" });
        flash(el);
      }
    });
    app.on("actors-changed", () => void this.refresh());
  }

  /** Marks an actor name for a few seconds (after spawning it). */
  highlight(name: string): void {
    this.#highlight.set(name, Date.now() + HIGHLIGHT_MS);
    this.#signature = "";
  }

  async refresh(): Promise<void> {
    const { system } = this.#app;
    try {
      this.#sys ??= (await pul.getSystemActor(system)).withOptions({ timeout: 1_000 });
      this.#own = await this.#sys.listActors();
      this.#ownError = undefined;
    } catch (error) {
      const e = describeError(error);
      this.#ownError = `${e.name}: ${e.message}`;
    }
    this.#render();
  }

  #render(): void {
    const { system, selfId, seedIds } = this.#app;
    const now = Date.now();
    for (const [name, until] of this.#highlight) if (until < now) this.#highlight.delete(name);
    const members = orderMembers(system.members(), selfId, seedIds);
    const signature = JSON.stringify([members, this.#own, this.#ownError, [...this.#highlight.keys()]]);
    if (signature === this.#signature) return;
    this.#signature = signature;
    replaceChildren(
      this.#list,
      members.map((m) => {
        const isSelf = m.nodeId === selfId;
        return h(
          "div",
          { class: "member", "data-node-id": m.nodeId, "data-runtime": m.runtime, "data-status": m.status },
          h(
            "div",
            { class: "member-head" },
            h("span", { class: `rt rt-${m.runtime}` }, RUNTIME_LABEL[m.runtime]),
            h("code", { class: "node-id", title: m.nodeId }, shortId(m.nodeId)),
            isSelf ? h("span", { class: "tag tag-self" }, "this tab") : null,
            seedIds.has(m.nodeId) ? h("span", { class: "tag tag-seed" }, "seed") : null,
            h("span", { class: `status status-${m.status}` }, m.status),
          ),
          isSelf ? this.#ownTable() : this.#chips(m.nodeId, m.actors),
        );
      }),
    );
  }

  #chips(nodeId: string, names: string[]): HTMLElement {
    if (names.length === 0) return h("p", { class: "muted small" }, "no public actors");
    return h(
      "ul",
      { class: "chips" },
      [...names].sort().map((name) =>
        h(
          "li",
          {},
          h(
            "button",
            {
              type: "button",
              class: `chip${this.#highlight.has(name) ? " highlight" : ""}`,
              "data-actor-name": name,
              title: `call ${name}`,
              onclick: () => this.#app.emit("select-actor", { name, nodeId }),
            },
            name,
          ),
        ),
      ),
    );
  }

  #ownTable(): HTMLElement {
    if (this.#ownError !== undefined) return h("p", { class: "error small" }, this.#ownError);
    const rows = [...this.#own].sort((a, b) => actorOrder(a) - actorOrder(b) || (a.name ?? "").localeCompare(b.name ?? ""));
    return h(
      "table",
      { class: "actor-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "actor"), h("th", {}, "class"), h("th", { class: "num" }, "msgs"), h("th", { class: "num", title: "mailbox + in flight" }, "load"), h("th", {}, "status"))),
      h(
        "tbody",
        {},
        rows.map((a) =>
          h(
            "tr",
            {
              "data-actor-name": a.name,
              "data-actor-id": a.actorId,
              class: [this.#highlight.has(a.name ?? "") ? "highlight" : "", a.name !== undefined ? "clickable" : ""].join(" ").trim() || undefined,
              onclick: () => {
                if (a.name !== undefined) this.#app.emit("select-actor", { name: a.name, nodeId: this.#app.selfId });
              },
            },
            h("td", {}, h("span", { class: "actor-name" }, a.name ?? a.actorId.split(":").pop()), a.public ? null : h("span", { class: "tag tag-private" }, "private")),
            h("td", { class: "muted" }, a.className ?? "—"),
            h("td", { class: "num" }, a.processed),
            h("td", { class: "num" }, a.mailbox + a.inflight),
            h("td", {}, h("span", { class: `status status-${a.status}` }, a.status)),
          ),
        ),
      ),
    );
  }
}

function actorOrder(a: pul.ActorInfo): number {
  return a.name === "system" ? 0 : a.public ? 1 : 2;
}
