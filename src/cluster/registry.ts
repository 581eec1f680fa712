/**
 * The cluster-wide registry of public named actors, replicated on every node. Each node is the authority for its
 * own names: it numbers its changes (`version`, reset when its `incarnation` changes) and the others keep a
 * replica per node, kept current by deltas and repaired by pulling a snapshot whenever a version does not follow
 * (anti-entropy: a late joiner or a healed partition catches up this way).
 */
export interface NameEntry {
  readonly name: string;
  readonly nodeId: string;
  readonly localId: number;
}

export interface RegistrySnapshot {
  incarnation: number;
  version: number;
  names: Array<[string, number]>;
}

interface NodeNames {
  incarnation: number;
  version: number;
  names: Map<string, number>;
}

export class Registry {
  readonly #nodes = new Map<string, NodeNames>();
  readonly #byName = new Map<string, NameEntry[]>();
  readonly #listeners = new Set<(name: string) => void>();

  /** Whether the replica of `nodeId` is at (incarnation, version). */
  isCurrent(nodeId: string, incarnation: number, version: number): boolean {
    const node = this.#nodes.get(nodeId);
    return node !== undefined && node.incarnation === incarnation && node.version === version;
  }

  /** Replaces what is known of `nodeId` (ignores an older snapshot). */
  replace(nodeId: string, snapshot: RegistrySnapshot): void {
    const current = this.#nodes.get(nodeId);
    if (current !== undefined && (snapshot.incarnation < current.incarnation || (snapshot.incarnation === current.incarnation && snapshot.version < current.version))) {
      return;
    }
    const before = current?.names ?? new Map<string, number>();
    const after = new Map(snapshot.names);
    this.#nodes.set(nodeId, { incarnation: snapshot.incarnation, version: snapshot.version, names: after });
    this.#reindex(nodeId, before, after);
  }

  /**
   * Applies the change numbered `version` of `nodeId`; false when it does not follow the replica (the caller then
   * pulls a snapshot).
   */
  applyDelta(nodeId: string, incarnation: number, version: number, added: Array<[string, number]>, removed: string[]): boolean {
    const node = this.#nodes.get(nodeId);
    if (node === undefined || node.incarnation !== incarnation) return false;
    if (version <= node.version) return true; // already have it
    if (version !== node.version + 1) return false;
    const before = new Map(node.names);
    for (const name of removed) node.names.delete(name);
    for (const [name, localId] of added) node.names.set(name, localId);
    node.version = version;
    this.#reindex(nodeId, before, node.names);
    return true;
  }

  /** Forgets a node's names (it died or left). */
  drop(nodeId: string): void {
    const node = this.#nodes.get(nodeId);
    if (node === undefined) return;
    this.#nodes.delete(nodeId);
    this.#reindex(nodeId, node.names, new Map());
  }

  instances(name: string): readonly NameEntry[] {
    return this.#byName.get(name) ?? [];
  }

  /** The replica of `nodeId`'s names, if there is one. */
  snapshotOf(nodeId: string): RegistrySnapshot | undefined {
    const node = this.#nodes.get(nodeId);
    return node === undefined ? undefined : { incarnation: node.incarnation, version: node.version, names: [...node.names] };
  }

  namesOf(nodeId: string): string[] {
    return [...(this.#nodes.get(nodeId)?.names.keys() ?? [])].sort();
  }

  /** Calls `listener(name)` whenever the instances of `name` change. */
  onChange(listener: (name: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #reindex(nodeId: string, before: Map<string, number>, after: Map<string, number>): void {
    const changed = new Set<string>();
    for (const [name, localId] of before) if (after.get(name) !== localId) changed.add(name);
    for (const [name, localId] of after) if (before.get(name) !== localId) changed.add(name);
    for (const name of changed) {
      const others = (this.#byName.get(name) ?? []).filter((e) => e.nodeId !== nodeId);
      const localId = after.get(name);
      const entries = localId === undefined ? others : [...others, { name, nodeId, localId }];
      entries.sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
      if (entries.length === 0) this.#byName.delete(name);
      else this.#byName.set(name, entries);
    }
    for (const name of changed) for (const listener of this.#listeners) listener(name);
  }
}
