import type { ConnectionInfo, Member, RuntimeKind } from "pulsing";
import { setAttr, svg } from "./dom.js";
import { RUNTIME_LABEL, shortId } from "./util.js";

/** What the graph draws: the members this node sees and its own connections. */
export interface GraphData {
  selfId: string;
  seedIds: ReadonlySet<string>;
  members: Member[];
  connections: ConnectionInfo[];
}

type EdgeKind = "direct" | "relayed";

interface NodeView {
  g: SVGGElement;
  title: SVGTitleElement;
  tag: SVGTextElement;
}

interface EdgeView {
  g: SVGGElement;
  line: SVGLineElement;
  label: SVGTextElement;
}

const HEIGHT = 380;
const R = 26;

/**
 * The membership graph: one SVG node per member (shape and colour by runtime, style by status), this node in
 * the middle, and an edge to every peer it is connected to — solid when direct, dashed when relayed.
 * Elements are keyed by node id and updated in place, so hovering and animations survive refreshes.
 */
export class MembershipGraph {
  readonly element: SVGSVGElement;
  readonly #edgeLayer: SVGGElement;
  readonly #nodeLayer: SVGGElement;
  readonly #hint: SVGTextElement;
  readonly #nodes = new Map<string, NodeView>();
  readonly #edges = new Map<string, EdgeView>();
  #width = 640;
  #last: GraphData | undefined;
  #onSelect: (nodeId: string) => void;

  constructor(container: HTMLElement, onSelect: (nodeId: string) => void) {
    this.#onSelect = onSelect;
    this.#edgeLayer = svg("g", { class: "edges" });
    this.#nodeLayer = svg("g", { class: "nodes" });
    this.#hint = svg("text", { class: "graph-hint", "text-anchor": "middle" });
    this.element = svg("svg", { class: "graph-svg", role: "img", "aria-label": "cluster membership graph", height: HEIGHT });
    this.element.append(this.#edgeLayer, this.#nodeLayer, this.#hint);
    container.append(this.element);
    const resize = () => {
      const width = Math.max(320, Math.floor(container.clientWidth));
      if (width !== this.#width) {
        this.#width = width;
        if (this.#last !== undefined) this.update(this.#last);
      }
    };
    new ResizeObserver(resize).observe(container);
    this.#width = Math.max(320, Math.floor(container.clientWidth || 640));
  }

  update(data: GraphData): void {
    this.#last = data;
    const width = this.#width;
    this.element.setAttribute("viewBox", `0 0 ${width} ${HEIGHT}`);
    this.element.setAttribute("width", String(width));
    const positions = layout(data, width, HEIGHT);

    // Nodes
    const seen = new Set<string>();
    for (const member of data.members) {
      seen.add(member.nodeId);
      let view = this.#nodes.get(member.nodeId);
      if (view === undefined || view.g.dataset.runtime !== member.runtime) {
        view?.g.remove();
        view = this.#makeNode(member, member.nodeId === data.selfId);
        this.#nodes.set(member.nodeId, view);
        this.#nodeLayer.append(view.g);
      }
      const p = positions.get(member.nodeId)!;
      view.g.setAttribute("transform", `translate(${p.x.toFixed(1)} ${p.y.toFixed(1)})`);
      view.g.dataset.status = member.status;
      setAttr(view.g, "data-seed", data.seedIds.has(member.nodeId) ? "true" : undefined);
      const tag = member.nodeId === data.selfId ? "this tab" : data.seedIds.has(member.nodeId) ? "seed" : member.status === "alive" ? "" : member.status;
      view.tag.textContent = tag;
      view.title.textContent = [
        `${RUNTIME_LABEL[member.runtime]} node ${member.nodeId}`,
        `status: ${member.status}`,
        `actors: ${member.actors.length > 0 ? member.actors.join(", ") : "(none public)"}`,
        ...member.addrs.slice(0, 4).map((a) => `addr: ${a}`),
      ].join("\n");
    }
    for (const [id, view] of this.#nodes) {
      if (!seen.has(id)) {
        view.g.remove();
        this.#nodes.delete(id);
      }
    }

    // Edges: this node's connections, one per peer (a direct connection wins over a relayed one).
    const byPeer = new Map<string, { kind: EdgeKind; transports: Set<string> }>();
    for (const c of data.connections) {
      if (!positions.has(c.nodeId) || c.nodeId === data.selfId) continue;
      const kind: EdgeKind = c.relayed || c.transport === "relay" ? "relayed" : "direct";
      const entry = byPeer.get(c.nodeId) ?? { kind, transports: new Set<string>() };
      if (kind === "direct") entry.kind = "direct";
      entry.transports.add(c.transport);
      byPeer.set(c.nodeId, entry);
    }
    const from = positions.get(data.selfId)!;
    for (const [peer, { kind, transports }] of byPeer) {
      let view = this.#edges.get(peer);
      if (view === undefined) {
        view = this.#makeEdge(peer);
        this.#edges.set(peer, view);
        this.#edgeLayer.append(view.g);
      }
      const to = positions.get(peer)!;
      const transport = [...transports].sort((a, b) => transportRank(a) - transportRank(b))[0]!;
      view.g.dataset.kind = kind;
      view.g.dataset.transport = [...transports].join(" ");
      setLine(view.line, from, to);
      placeLabel(view.label, from, to);
      view.g.dataset.peerStatus = data.members.find((m) => m.nodeId === peer)?.status ?? "alive";
      view.label.textContent = kind === "relayed" ? "relay" : transport;
    }
    for (const [peer, view] of this.#edges) {
      if (!byPeer.has(peer)) {
        view.g.remove();
        this.#edges.delete(peer);
      }
    }

    this.#hint.setAttribute("x", String(width / 2));
    this.#hint.setAttribute("y", String(HEIGHT - 14));
    this.#hint.textContent = data.members.length <= 1 ? "waiting for other members…" : "";
  }

  #makeNode(member: Member, isSelf: boolean): NodeView {
    const title = svg("title");
    const tag = svg("text", { class: "node-tag", y: R + 30, "text-anchor": "middle" });
    const g = svg(
      "g",
      {
        class: "graph-node",
        "data-node-id": member.nodeId,
        "data-runtime": member.runtime,
        "data-self": isSelf ? "true" : undefined,
        tabindex: 0,
        onclick: () => this.#onSelect(member.nodeId),
        onkeydown: (e: KeyboardEvent) => {
          if (e.key === "Enter" || e.key === " ") this.#onSelect(member.nodeId);
        },
      },
      title,
      isSelf ? svg("circle", { class: "self-ring", r: R + 9 }) : null,
      shape(member.runtime),
      svg("text", { class: "node-runtime", y: 4, "text-anchor": "middle" }, runtimeGlyph(member.runtime)),
      svg("text", { class: "node-label", y: R + 16, "text-anchor": "middle" }, shortId(member.nodeId)),
      tag,
    );
    return { g, title, tag };
  }

  #makeEdge(peer: string): EdgeView {
    const line = svg("line", { class: "edge-line" });
    const label = svg("text", { class: "edge-label", "text-anchor": "middle" });
    const g = svg("g", { class: "graph-edge", "data-peer": peer }, line, label);
    return { g, line, label };
  }
}

function shape(runtime: RuntimeKind): SVGElement {
  switch (runtime) {
    case "node":
      return svg("rect", { class: "shape", x: -R, y: -R * 0.8, width: 2 * R, height: 1.6 * R, rx: 7 });
    case "deno": {
      const pts = Array.from({ length: 6 }, (_, i) => {
        const a = (Math.PI / 3) * i;
        return `${(R * 1.08 * Math.cos(a)).toFixed(1)},${(R * 1.08 * Math.sin(a)).toFixed(1)}`;
      });
      return svg("polygon", { class: "shape", points: pts.join(" ") });
    }
    default:
      return svg("circle", { class: "shape", r: R });
  }
}

function runtimeGlyph(runtime: RuntimeKind): string {
  return runtime === "node" ? "node" : runtime === "deno" ? "deno" : "tab";
}

function transportRank(t: string): number {
  return ["webrtc", "tcp", "websocket", "other", "relay"].indexOf(t);
}

/**
 * Puts an edge's label halfway along the free stretch of the line (clear of both nodes and of the labels
 * under them), beside the line: to its right when the line is steep, above or below it otherwise.
 */
function placeLabel(label: SVGTextElement, from: Point, to: Point): void {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const len = Math.hypot(dx, dy) || 1;
  const steep = Math.abs(dx) < Math.abs(dy) * 0.5;
  const labelsBelow = R + 40; // a node's id and tag
  const start = steep && dy > 0 ? labelsBelow : R + 12;
  const end = steep && dy < 0 ? labelsBelow : R + 12;
  const t = Math.min(0.9, Math.max(0.1, (start + (len - end)) / 2 / len));
  const x = from.x + dx * t;
  const y = from.y + dy * t;
  if (steep) {
    label.setAttribute("text-anchor", "start");
    label.setAttribute("x", (x + 8).toFixed(1));
    label.setAttribute("y", (y + 4).toFixed(1));
  } else {
    // Perpendicular to the line, on its lower side.
    const side = dx >= 0 ? 1 : -1;
    label.setAttribute("text-anchor", "middle");
    label.setAttribute("x", (x - (side * dy * 10) / len).toFixed(1));
    label.setAttribute("y", (y + (side * dx * 10) / len + 4).toFixed(1));
  }
}

type Point = { x: number; y: number };

function setLine(line: SVGLineElement, a: Point, b: Point): void {
  line.setAttribute("x1", a.x.toFixed(1));
  line.setAttribute("y1", a.y.toFixed(1));
  line.setAttribute("x2", b.x.toFixed(1));
  line.setAttribute("y2", b.y.toFixed(1));
}

/** This node in the middle; the others on an ellipse around it, seeds first, in a stable order. */
function layout(data: GraphData, width: number, height: number): Map<string, { x: number; y: number }> {
  const cx = width / 2;
  const cy = height / 2 - 8;
  const out = new Map<string, { x: number; y: number }>([[data.selfId, { x: cx, y: cy }]]);
  const others = data.members.filter((m) => m.nodeId !== data.selfId);
  const rx = Math.max(90, Math.min(width / 2 - 70, 280));
  const ry = Math.max(80, Math.min(height / 2 - 62, 130));
  const n = others.length;
  // Spread evenly from the top; with an even count, turned by half a step so that no peer sits straight below
  // this node (where its own labels are).
  const start = -Math.PI / 2 + (n % 2 === 0 ? Math.PI / n : 0);
  others.forEach((m, i) => {
    const a = start + (2 * Math.PI * i) / Math.max(1, n);
    out.set(m.nodeId, { x: cx + rx * Math.cos(a), y: cy + ry * Math.sin(a) });
  });
  return out;
}
