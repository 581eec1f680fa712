import { h, replaceChildren, svg } from "./dom.js";
import { formatRate } from "./util.js";

/** One sample of a series: when (epoch ms, this tab's clock) and the value (null: no reading). */
export interface Sample {
  t: number;
  v: number | null;
}

export interface Series {
  id: string;
  label: string;
  sublabel?: string;
  color: string;
  samples: Sample[];
}

const HEIGHT = 230;
const M = { top: 14, right: 16, bottom: 26, left: 44 };
/** Two samples further apart than this are not joined by a line. */
const GAP_MS = 2_600;

/**
 * A live line chart in SVG: one line per series over the last `windowMs`, a y axis that rescales to "nice"
 * steps, and an HTML legend with each series' latest value.
 */
export class LineChart {
  readonly element: HTMLElement;
  readonly #svg: SVGSVGElement;
  readonly #legend: HTMLElement;
  readonly #windowMs: number;
  readonly #unit: string;
  #width = 640;
  #last: { series: Series[]; note: string | undefined; now: number } | undefined;

  constructor(container: HTMLElement, options: { windowMs: number; unit: string }) {
    this.#windowMs = options.windowMs;
    this.#unit = options.unit;
    this.#svg = svg("svg", { class: "chart-svg", height: HEIGHT, role: "img", "aria-label": `chart of ${options.unit}` });
    this.#legend = h("ul", { class: "chart-legend" });
    this.element = h("div", { class: "chart" }, this.#svg, this.#legend);
    container.append(this.element);
    this.#width = Math.max(300, Math.floor(container.clientWidth || 640));
    new ResizeObserver(() => {
      const width = Math.max(300, Math.floor(container.clientWidth));
      if (width !== this.#width) {
        this.#width = width;
        if (this.#last !== undefined) this.update(this.#last.series, this.#last.note, this.#last.now);
      }
    }).observe(container);
  }

  /** Redraws; `note` is shown at the end of the legend. */
  update(series: Series[], note?: string, now = Date.now()): void {
    this.#last = { series, note, now };
    const width = this.#width;
    const plotW = width - M.left - M.right;
    const plotH = HEIGHT - M.top - M.bottom;
    const t0 = now - this.#windowMs;
    let max = 0;
    for (const s of series) for (const p of s.samples) if (p.v !== null && p.t >= t0 && p.v > max) max = p.v;
    const { top, step } = niceScale(max);
    const x = (t: number) => M.left + ((t - t0) / this.#windowMs) * plotW;
    const y = (v: number) => M.top + plotH - (v / top) * plotH;

    const grid = svg("g", { class: "chart-grid" });
    for (let v = 0; v <= top + 1e-9; v += step) {
      grid.append(
        svg("line", { x1: M.left, x2: width - M.right, y1: y(v).toFixed(1), y2: y(v).toFixed(1) }),
        svg("text", { x: M.left - 8, y: (y(v) + 4).toFixed(1), "text-anchor": "end" }, formatRate(v)),
      );
    }
    const secs = this.#windowMs / 1000;
    for (let s = 0; s <= secs; s += 15) {
      const xs = x(now - s * 1000);
      grid.append(svg("text", { x: xs.toFixed(1), y: HEIGHT - 8, "text-anchor": s === 0 ? "end" : s === secs ? "start" : "middle" }, s === 0 ? "now" : `−${s}s`));
    }

    const lines = svg("g", { class: "chart-lines" });
    for (const s of series) {
      const d = pathOf(s.samples.filter((p) => p.t >= t0 - 1500), x, y);
      const last = [...s.samples].reverse().find((p) => p.v !== null && p.t >= t0);
      lines.append(
        svg(
          "g",
          { class: "chart-series", "data-node-id": s.id, style: `--series:${s.color}` },
          svg("path", { class: "chart-line", d }),
          last !== undefined ? svg("circle", { class: "chart-dot", cx: x(last.t).toFixed(1), cy: y(last.v!).toFixed(1), r: 3.5 }) : null,
        ),
      );
    }
    const clip = svg("clipPath", { id: "chart-clip" }, svg("rect", { x: M.left, y: 0, width: plotW, height: HEIGHT }));
    lines.setAttribute("clip-path", "url(#chart-clip)");
    this.#svg.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    this.#svg.setAttribute("width", String(width));
    replaceChildren(this.#svg, svg("defs", {}, clip), grid, lines);

    replaceChildren(
      this.#legend,
      series.map((s) => {
        const last = [...s.samples].reverse().find((p) => p.t >= t0);
        const value = last?.v ?? null;
        return h(
          "li",
          { "data-node-id": s.id, "data-rate": value === null ? undefined : String(value), style: `--series:${s.color}`, class: value === null ? "stale" : undefined },
          h("span", { class: "swatch" }),
          h("span", { class: "legend-label" }, s.label),
          s.sublabel !== undefined ? h("span", { class: "legend-sub" }, s.sublabel) : null,
          h("span", { class: "legend-value" }, value === null ? "—" : `${formatRate(value)} ${this.#unit}`),
        );
      }),
      note !== undefined ? h("li", { class: "legend-note" }, note) : null,
    );
  }
}

function pathOf(samples: Sample[], x: (t: number) => number, y: (v: number) => number): string {
  let d = "";
  let prev: Sample | undefined;
  for (const p of samples) {
    if (p.v === null) {
      prev = undefined;
      continue;
    }
    const joined = prev !== undefined && p.t - prev.t <= GAP_MS;
    d += `${joined ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    prev = p;
  }
  return d;
}

/** A top of the y axis and a step: 1, 2 or 5 times a power of ten, about four steps. */
function niceScale(max: number): { top: number; step: number } {
  const target = Math.max(max, 4) / 4;
  const mag = 10 ** Math.floor(Math.log10(target));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= target)!;
  return { top: Math.ceil(Math.max(max, 4) / step) * step, step };
}
