import * as pul from "pulsing";
import type { App } from "../app.js";
import { LineChart, type Sample } from "../chart.js";
import { h } from "../dom.js";
import { RUNTIME_LABEL, orderMembers, shortId } from "../util.js";
import { card } from "./card.js";

const WINDOW_MS = 60_000;
const TIMEOUT_MS = 1_000;
/** At most this many nodes are polled (this one and the seeds first). */
const MAX_POLLED = 12;
const PALETTE = ["#58a6ff", "#3fb950", "#f778ba", "#d29922", "#a371f7", "#39c5cf", "#ff7b72", "#7ee787", "#e3b341", "#79c0ff"];

interface NodeSeries {
  nodeId: string;
  runtime: pul.RuntimeKind;
  color: string;
  samples: Sample[];
  /** The last reading: messages processed at the node's uptime. */
  last: { processed: number; uptimeMs: number } | undefined;
  pending: boolean;
}

/**
 * Message rates (`#rates`): every second, asks each member's system actor for `getMetrics()` (at most 1 s per
 * call) and plots the difference of `messagesProcessed` over the node's own uptime, per node, for the last 60 s.
 * The polling itself is a message per node and per open dashboard, so an idle cluster shows a small floor.
 *
 * Only nodes this tab already has a connection to are polled (plus itself and the seeds): a call to any other
 * member would open a connection to it, and every dashboard polling every member would make a full mesh of
 * connections (WebRTC between tabs) — O(n²), which slows down tabs joining a busy cluster several-fold. Members
 * not polled are listed in the legend as such. At most `MAX_POLLED` nodes are polled.
 */
export class RatesPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #chart: LineChart;
  readonly #series = new Map<string, NodeSeries>();
  #colors = 0;
  #unpolled: string[] = [];

  constructor(app: App) {
    this.#app = app;
    const container = h("div", { id: "rates", class: "rates" });
    this.element = card(
      { id: "rates-card", title: "Messages per second", subtitle: "per node, from each system actor's getMetrics() · last 60 s · includes the dashboards' own polling", className: "wide" },
      container,
    );
    this.#chart = new LineChart(container, { windowMs: WINDOW_MS, unit: "msg/s" });
  }

  /** One polling round: a reading from every member that is not dead (and not still answering the last one). */
  async poll(): Promise<void> {
    const { system } = this.#app;
    const now = Date.now();
    const connected = new Set(system.connections().map((c) => c.nodeId));
    const alive = orderMembers(system.members(), this.#app.selfId, this.#app.seedIds).filter((m) => m.status !== "dead");
    const members = alive
      .filter((m) => m.nodeId === this.#app.selfId || this.#app.seedIds.has(m.nodeId) || connected.has(m.nodeId))
      .slice(0, MAX_POLLED);
    this.#unpolled = alive.filter((m) => !members.includes(m)).map((m) => m.nodeId);
    for (const m of members) {
      if (!this.#series.has(m.nodeId)) {
        this.#series.set(m.nodeId, {
          nodeId: m.nodeId,
          runtime: m.runtime,
          color: m.nodeId === this.#app.selfId ? PALETTE[0]! : PALETTE[1 + (this.#colors++ % (PALETTE.length - 1))]!,
          samples: [],
          last: undefined,
          pending: false,
        });
      }
    }
    const live = new Set(members.map((m) => m.nodeId));
    await Promise.all(
      [...this.#series.values()].map(async (s) => {
        if (!live.has(s.nodeId)) {
          s.samples.push({ t: now, v: null });
          s.last = undefined;
          return;
        }
        if (s.pending) return;
        s.pending = true;
        try {
          const sys = (await pul.getSystemActor(system, s.nodeId)).withOptions({ timeout: TIMEOUT_MS });
          const m = await sys.getMetrics();
          const prev = s.last;
          s.last = { processed: m.messagesProcessed, uptimeMs: m.uptimeMs };
          if (prev !== undefined && m.uptimeMs > prev.uptimeMs && m.messagesProcessed >= prev.processed) {
            s.samples.push({ t: Date.now(), v: ((m.messagesProcessed - prev.processed) * 1000) / (m.uptimeMs - prev.uptimeMs) });
          }
        } catch {
          s.samples.push({ t: Date.now(), v: null });
          s.last = undefined;
        } finally {
          s.pending = false;
        }
      }),
    );
    // Forget old samples, and series with nothing left to show.
    const horizon = Date.now() - WINDOW_MS - 2_000;
    for (const [id, s] of this.#series) {
      s.samples = s.samples.filter((p) => p.t >= horizon);
      if (!live.has(id) && !s.samples.some((p) => p.v !== null)) this.#series.delete(id);
    }
    this.render();
  }

  render(): void {
    const { selfId, seedIds } = this.#app;
    this.#chart.update(
      [...this.#series.values()].filter((s) => !this.#unpolled.includes(s.nodeId) || s.samples.some((p) => p.v !== null)).map((s) => ({
        id: s.nodeId,
        label: shortId(s.nodeId),
        sublabel: s.nodeId === selfId ? "this tab" : seedIds.has(s.nodeId) ? "seed" : RUNTIME_LABEL[s.runtime],
        color: s.color,
        samples: s.samples,
      })),
      this.#unpolled.length > 0 ? `${this.#unpolled.length} member${this.#unpolled.length === 1 ? "" : "s"} not connected to this tab, not polled` : undefined,
    );
  }
}
