import type { App } from "../app.js";
import { h, replaceChildren } from "../dom.js";
import type { QueuesTopicsPoller } from "../queues-topics.js";
import { formatRate, shortId } from "../util.js";
import { card } from "./card.js";
import { footnote } from "./queues.js";

/**
 * Topics (`#topics`): every topic a polled node subscribes to or published to, with its subscriber nodes and its
 * publish and delivery rates (messages/s: each node's counters over its last two answers, summed).
 */
export class TopicsPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #list: HTMLElement;
  #signature = "";

  constructor(app: App) {
    this.#app = app;
    this.#list = h("div", { id: "topics", class: "streams" });
    this.element = card({ id: "topics-card", title: "Topics", subtitle: "subscriber nodes · publishes and deliveries per second (getQueuesAndTopics)" }, this.#list);
  }

  render(poller: QueuesTopicsPoller): void {
    const { selfId, seedIds } = this.#app;
    const topics = poller.topics();
    const signature = JSON.stringify([topics, [...poller.errors], poller.unpolled]);
    if (signature === this.#signature) return;
    this.#signature = signature;
    replaceChildren(
      this.#list,
      topics.length === 0
        ? h("p", { class: "muted small", id: "topics-empty" }, "no topics yet — ", h("code", {}, "pul.topic.read(name)"), " subscribes, ", h("code", {}, "pul.topic.write(name)"), " publishes")
        : h(
            "table",
            { class: "actor-table" },
            h(
              "thead",
              {},
              h("tr", {}, h("th", {}, "topic"), h("th", {}, "subscribers"), h("th", { class: "num" }, "publish/s"), h("th", { class: "num" }, "deliver/s"), h("th", { class: "num" }, "published")),
            ),
            h(
              "tbody",
              {},
              topics.map((t) =>
                h(
                  "tr",
                  { "data-topic": t.topic, "data-subscribers": t.subscribers.length, "data-published": t.published },
                  h("td", {}, h("span", { class: "actor-name" }, t.topic)),
                  h(
                    "td",
                    {},
                    t.subscribers.length === 0
                      ? h("span", { class: "muted" }, "none")
                      : t.subscribers.map((id) =>
                          h("code", { class: "node-id", title: id, "data-node-id": id }, shortId(id), id === selfId ? h("span", { class: "tag tag-self" }, "this tab") : seedIds.has(id) ? h("span", { class: "tag tag-seed" }, "seed") : null),
                        ),
                  ),
                  h("td", { class: "num" }, t.publishRate === undefined ? "…" : formatRate(t.publishRate)),
                  h("td", { class: "num" }, t.receiveRate === undefined ? "…" : formatRate(t.receiveRate)),
                  h("td", { class: "num" }, t.published),
                ),
              ),
            ),
          ),
      footnote(poller),
    );
  }
}
