import type { Member, RuntimeKind } from "pulsing";

/** The last characters of a peer id: the first ones (`12D3KooW…`) are the same for every node. */
export function shortId(nodeId: string): string {
  return nodeId.slice(-6);
}

export const RUNTIME_LABEL: Record<RuntimeKind, string> = { node: "Node", browser: "browser", deno: "Deno" };

/** An error as the dashboard shows it: its class name and message (errors keep their class across the wire). */
export function describeError(error: unknown): { name: string; message: string; details?: string } {
  if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error)) {
    const e = error as Error & { code?: unknown; details?: unknown; actorName?: unknown };
    const extra: string[] = [];
    if (e.code !== undefined) extra.push(`code: ${String(e.code)}`);
    if (typeof e.actorName === "string") extra.push(`actor: ${e.actorName}`);
    if (e.details !== undefined) extra.push(`details: ${safeJson(e.details)}`);
    return { name: e.name || "Error", message: String(e.message), ...(extra.length > 0 ? { details: extra.join(" · ") } : {}) };
  }
  return { name: typeof error, message: String(error) };
}

/** JSON for display: tolerant of BigInt, cycles and undefined. */
export function safeJson(value: unknown, indent?: number): string {
  const seen = new WeakSet<object>();
  try {
    const text = JSON.stringify(
      value,
      (_key, v: unknown) => {
        if (typeof v === "bigint") return `${v}n`;
        if (typeof v === "object" && v !== null) {
          if (seen.has(v)) return "[circular]";
          seen.add(v);
          if (v instanceof Set) return [...v];
          if (v instanceof Map) return Object.fromEntries(v);
        }
        return v;
      },
      indent,
    );
    return text ?? String(value);
  } catch {
    return String(value);
  }
}

/** Rate formatting: 0, 3.5, 12, 1.2k */
export function formatRate(value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
  if (value >= 10) return value.toFixed(0);
  return value.toFixed(1).replace(/\.0$/, "");
}

export function formatDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

export function clockTime(epochMs: number): string {
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** Members in display order: this node, then seeds, then by runtime and id. */
export function orderMembers(members: Member[], selfId: string, seedIds: ReadonlySet<string>): Member[] {
  const rank = (m: Member) => (m.nodeId === selfId ? 0 : seedIds.has(m.nodeId) ? 1 : m.runtime === "node" ? 2 : m.runtime === "deno" ? 3 : 4);
  return [...members].sort((a, b) => rank(a) - rank(b) || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
