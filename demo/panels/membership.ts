import type { App } from "../app.js";
import { h, replaceChildren } from "../dom.js";
import { MembershipGraph } from "../graph.js";
import { orderMembers } from "../util.js";
import { card } from "./card.js";

/** The membership graph card (`#members`), refreshed every second and on membership events. */
export class MembershipPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #graph: MembershipGraph;
  readonly #summary: HTMLElement;

  constructor(app: App) {
    this.#app = app;
    const container = h("div", { id: "members", class: "graph" });
    this.#summary = h("div", { class: "summary", id: "members-summary" });
    this.element = card(
      { id: "membership-card", title: "Cluster", subtitle: "members this tab sees, and its own connections", aside: this.#summary, className: "wide" },
      container,
      legend(),
    );
    this.#graph = new MembershipGraph(container, (nodeId) => app.emit("focus-node", nodeId));
  }

  refresh(): void {
    const { system, selfId, seedIds } = this.#app;
    const members = orderMembers(system.members(), selfId, seedIds);
    const connections = system.connections();
    this.#graph.update({ selfId, seedIds, members, connections });
    const count = (s: string) => members.filter((m) => m.status === s).length;
    const peers = new Map<string, boolean>();
    for (const c of connections) peers.set(c.nodeId, (peers.get(c.nodeId) ?? false) || !(c.relayed || c.transport === "relay"));
    const direct = [...peers.values()].filter(Boolean).length;
    replaceChildren(
      this.#summary,
      pill("alive", count("alive")),
      count("suspect") > 0 ? pill("suspect", count("suspect")) : null,
      count("dead") > 0 ? pill("dead", count("dead")) : null,
      h("span", { class: "pill conn" }, `${direct} direct · ${peers.size - direct} relayed`),
    );
  }
}

function pill(status: string, n: number): HTMLElement {
  return h("span", { class: `pill status-${status}`, "data-count": n }, `${n} ${status}`);
}

function legend(): HTMLElement {
  const item = (cls: string, label: string) => h("li", {}, h("span", { class: `lg ${cls}` }), label);
  return h(
    "ul",
    { class: "graph-legend" },
    item("lg-node", "Node"),
    item("lg-browser", "browser tab"),
    item("lg-deno", "Deno"),
    item("lg-suspect", "suspect"),
    item("lg-dead", "dead"),
    item("lg-direct", "direct (WebRTC / WebSocket / TCP)"),
    item("lg-relayed", "relayed (circuit relay)"),
  );
}
