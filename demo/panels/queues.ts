import type { App } from "../app.js";
import { h, replaceChildren } from "../dom.js";
import type { QueueRow, QueuesTopicsPoller } from "../queues-topics.js";
import { formatRate, shortId } from "../util.js";
import { card } from "./card.js";

/**
 * Queues (`#queues`): per queue, every bucket with its owner, the nodes holding a replica, its record count and its
 * write and read rates (records/s, from the owner's counters in its last two answers to `getQueuesAndTopics()`).
 */
export class QueuesPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #list: HTMLElement;
  #signature = "";

  constructor(app: App) {
    this.#app = app;
    this.#list = h("div", { id: "queues", class: "streams" });
    this.element = card(
      { id: "queues-card", title: "Queues", subtitle: "buckets · owner and replicas · records · writes and reads per second (getQueuesAndTopics)", className: "wide" },
      this.#list,
    );
  }

  render(poller: QueuesTopicsPoller): void {
    const queues = poller.queues();
    const signature = JSON.stringify([queues, [...poller.errors], poller.unpolled]);
    if (signature === this.#signature) return;
    this.#signature = signature;
    replaceChildren(
      this.#list,
      queues.length === 0 ? h("p", { class: "muted small", id: "queues-empty" }, "no queues yet — ", h("code", {}, "pul.queue.write(name)"), " makes one") : null,
      queues.map((q) => this.#queue(q)),
      footnote(poller),
    );
  }

  #queue(q: QueueRow): HTMLElement {
    const { selfId, seedIds } = this.#app;
    const node = (id: string) =>
      h("code", { class: "node-id", title: id }, shortId(id), id === selfId ? h("span", { class: "tag tag-self" }, "this tab") : seedIds.has(id) ? h("span", { class: "tag tag-seed" }, "seed") : null);
    return h(
      "div",
      { class: "queue", "data-topic": q.topic, "data-count": q.count },
      h("div", { class: "member-head" }, h("span", { class: "actor-name" }, q.topic), h("span", { class: "muted small" }, `${q.buckets.length} bucket${q.buckets.length === 1 ? "" : "s"} · ${q.count} records`)),
      h(
        "table",
        { class: "actor-table" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, "bucket"), h("th", {}, "owner"), h("th", {}, "replicas"), h("th", { class: "num" }, "records"), h("th", { class: "num" }, "write/s"), h("th", { class: "num" }, "read/s")),
        ),
        h(
          "tbody",
          {},
          q.buckets.map((b) =>
            h(
              "tr",
              { "data-bucket-id": b.bucketId, "data-owner": b.owner, "data-count": b.count },
              h("td", {}, b.bucketId),
              h("td", {}, node(b.owner)),
              h("td", {}, b.replicas.length === 0 ? h("span", { class: "muted" }, "—") : b.replicas.map(node)),
              h("td", { class: "num" }, b.count),
              h("td", { class: "num" }, b.writeRate === undefined ? "…" : formatRate(b.writeRate)),
              h("td", { class: "num" }, b.readRate === undefined ? "…" : formatRate(b.readRate)),
            ),
          ),
        ),
      ),
    );
  }
}

/** Nodes that were not asked, or did not answer. */
export function footnote(poller: QueuesTopicsPoller): HTMLElement | null {
  const notes: string[] = [];
  if (poller.unpolled > 0) notes.push(`${poller.unpolled} tab${poller.unpolled === 1 ? "" : "s"} not connected to this one, not asked`);
  if (poller.errors.size > 0) notes.push(`${poller.errors.size} node${poller.errors.size === 1 ? "" : "s"} did not answer: ${[...poller.errors.keys()].map(shortId).join(", ")}`);
  return notes.length === 0 ? null : h("p", { class: "muted small" }, notes.join(" · "));
}
