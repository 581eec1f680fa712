import * as pul from "pulsing";
import { DemoCounter, counterName } from "../../examples/demo-actors.js";
import type { ActorTarget, App } from "../app.js";
import { h, replaceChildren } from "../dom.js";
import { RUNTIME_LABEL, describeError, safeJson, shortId } from "../util.js";
import { card } from "./card.js";

const CALL_TIMEOUT_MS = 10_000;
const MAX_STREAM_ITEMS = 500;
const SEP = "\u0000";

/** Methods to suggest, by class name, with example arguments. */
const KNOWN_METHODS: Record<string, Record<string, string>> = {
  DemoCounter: { incr: "[]", add: "[5]", get: "[]", reset: "[]", countTo: "[20, 50]" },
  TokenStreamer: { generate: '["hello actors", 12]', stats: "[]" },
  ChatRoom: { history: "[5]", members: "[]", post: '["console", "hello from the call form"]' },
  ChatListener: { deliver: '[{"id":0,"from":"call form","text":"hi","at":0}]' },
  SystemActor: { ping: "[]", getMetrics: "[]", listActors: "[]", getNodeInfo: "[]", healthCheck: "[]" },
};

/**
 * Spawning a counter in this tab (`#spawn-counter`) and calling any named actor (`#call-form` → `#call-result`):
 * pick a name from the cluster registry (or a node's system actor), a method and JSON arguments. Replies are
 * shown as JSON; streamed replies item by item; errors with their class name (errors keep their class on the wire).
 */
export class CallPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #spawnButton: HTMLButtonElement;
  readonly #spawnStatus: HTMLElement;
  readonly #select: HTMLSelectElement;
  readonly #method: HTMLInputElement;
  readonly #args: HTMLInputElement;
  readonly #methods: HTMLDataListElement;
  readonly #submit: HTMLButtonElement;
  readonly #result: HTMLElement;
  #optionsSignature = "";
  #current: pul.ActorCall | undefined;
  /** Called when a counter was spawned here (the actors panel highlights it). */
  onSpawned: (name: string) => void = () => {};

  constructor(app: App) {
    this.#app = app;
    this.#spawnButton = h("button", { id: "spawn-counter", type: "button", class: "btn primary", onclick: () => void this.spawnCounter() }, "Spawn a counter in this tab");
    this.#spawnStatus = h("span", { id: "spawn-status", class: "muted small" });
    this.#select = h("select", { id: "call-actor", name: "actor", required: true, onchange: () => void this.#suggestMethods() });
    this.#methods = h("datalist", { id: "call-methods" });
    this.#method = h("input", { id: "call-method", name: "method", list: "call-methods", placeholder: "method", required: true, autocomplete: "off", spellcheck: false, onchange: () => this.#suggestArgs() });
    this.#args = h("input", { id: "call-args", name: "args", placeholder: "[] (JSON array of arguments)", autocomplete: "off", spellcheck: false });
    this.#submit = h("button", { id: "call-submit", type: "submit", class: "btn" }, "Call");
    this.#result = h("div", { id: "call-result", class: "result", "data-state": "idle" }, h("p", { class: "muted small" }, "Pick an actor, a method and arguments, then Call."));
    const form = h(
      "form",
      {
        id: "call-form",
        class: "call-form",
        onsubmit: (e: SubmitEvent) => {
          e.preventDefault();
          void this.call();
        },
      },
      h("label", { class: "field actor-field" }, h("span", {}, "actor"), this.#select),
      h("label", { class: "field" }, h("span", {}, "method"), this.#method, this.#methods),
      h("label", { class: "field grow" }, h("span", {}, "args (JSON)"), this.#args),
      this.#submit,
    );
    this.element = card(
      { id: "call-card", title: "Spawn & call", subtitle: "any named actor in the cluster, by name" },
      h("div", { class: "row" }, this.#spawnButton, this.#spawnStatus),
      form,
      this.#result,
    );
    app.on("select-actor", (target) => this.select(target));
  }

  /** Spawns (once) the counter `tab/<shortId>/counter` in this tab and points the call form at it. */
  async spawnCounter(): Promise<void> {
    const { system, selfId } = this.#app;
    const name = counterName(shortId(selfId));
    this.#spawnButton.disabled = true;
    try {
      const exists = (await pul.getSystemActor(system)).listActors().then((list) => list.some((a) => a.name === name && a.status !== "stopped"));
      if (!(await exists)) {
        const counter = await pul.spawn(DemoCounter, { name, args: [0] });
        this.#spawnStatus.textContent = `spawned ${name} · actor id …${String(counter.ref.actorId).slice(-8)}`;
      } else {
        this.#spawnStatus.textContent = `${name} is already running here`;
      }
      this.#spawnStatus.className = "ok small";
      this.#spawnStatus.dataset.name = name;
      this.onSpawned(name);
      this.#app.emit("actors-changed", undefined);
      this.select({ name, nodeId: selfId, method: "incr", args: "[]" });
    } catch (error) {
      const e = describeError(error);
      this.#spawnStatus.textContent = `${e.name}: ${e.message}`;
      this.#spawnStatus.className = "error small";
    } finally {
      this.#spawnButton.disabled = false;
    }
  }

  /** Rebuilds the actor choices from the registry (only when they changed). */
  refreshOptions(): void {
    const { system, selfId } = this.#app;
    const members = system.members().filter((m) => m.status !== "dead");
    const named: Array<{ name: string; member: pul.Member }> = [];
    for (const m of members) for (const name of m.actors) named.push({ name, member: m });
    named.sort((a, b) => a.name.localeCompare(b.name) || a.member.nodeId.localeCompare(b.member.nodeId));
    const signature = JSON.stringify([named.map((n) => [n.name, n.member.nodeId, n.member.runtime]), members.map((m) => [m.nodeId, m.runtime])]);
    if (signature === this.#optionsSignature) return;
    this.#optionsSignature = signature;
    const selected = this.#select.value;
    const where = (m: pul.Member) => `${m.nodeId === selfId ? "this tab" : shortId(m.nodeId)} · ${RUNTIME_LABEL[m.runtime]}`;
    replaceChildren(
      this.#select,
      h("option", { value: "", disabled: true, selected: selected === "" }, named.length === 0 ? "no named actors yet" : "choose an actor…"),
      h(
        "optgroup",
        { label: "Named actors (registry)" },
        named.map(({ name, member }) => h("option", { value: `${name}${SEP}${member.nodeId}`, "data-name": name, "data-node-id": member.nodeId }, `${name}  —  ${where(member)}`)),
      ),
      h(
        "optgroup",
        { label: "System actors" },
        members.map((m) => h("option", { value: `system${SEP}${m.nodeId}${SEP}sys`, "data-name": "system", "data-node-id": m.nodeId }, `system  —  ${where(m)}`)),
      ),
    );
    if (selected !== "" && [...this.#select.options].some((o) => o.value === selected)) this.#select.value = selected;
  }

  /** Points the form at an actor (and optionally a method and arguments). */
  select(target: ActorTarget): void {
    this.refreshOptions();
    const value = target.name === "system" && target.nodeId !== undefined ? `system${SEP}${target.nodeId}${SEP}sys` : undefined;
    let option = [...this.#select.options].find((o) =>
      value !== undefined ? o.value === value : o.dataset.name === target.name && (target.nodeId === undefined || o.dataset.nodeId === target.nodeId),
    );
    if (option === undefined) {
      // Not in the registry yet (just spawned): add it for now; the next refresh brings the real one.
      option = h("option", { value: `${target.name}${SEP}${target.nodeId ?? ""}`, "data-name": target.name, "data-node-id": target.nodeId }, target.name);
      this.#select.append(option);
      this.#optionsSignature = "";
    }
    this.#select.value = option.value;
    if (target.method !== undefined) {
      this.#method.value = target.method;
      this.#args.value = target.args ?? "[]";
    } else {
      this.#method.value = "";
      this.#args.value = "";
    }
    void this.#suggestMethods();
    this.element.scrollIntoView({ block: "nearest", behavior: "smooth" });
    this.#method.focus();
  }

  #target(): { name: string; nodeId: string | undefined; system: boolean } | undefined {
    const value = this.#select.value;
    if (value === "") return undefined;
    const [name, nodeId, kind] = value.split(SEP);
    return { name: name!, nodeId: nodeId === "" ? undefined : nodeId, system: kind === "sys" };
  }

  /** Fills the method suggestions from the target's class (asked of its node's `listActors()`). */
  async #suggestMethods(): Promise<void> {
    const target = this.#target();
    if (target === undefined) return;
    let className: string | undefined = target.system ? "SystemActor" : undefined;
    if (className === undefined && target.nodeId !== undefined) {
      try {
        const sys = (await pul.getSystemActor(this.#app.system, target.nodeId)).withOptions({ timeout: 1_000 });
        className = (await sys.listActors()).find((a) => a.name === target.name)?.className;
      } catch {
        // No suggestions, then.
      }
    }
    const known = className !== undefined ? KNOWN_METHODS[className] : undefined;
    replaceChildren(this.#methods, Object.keys(known ?? {}).map((m) => h("option", { value: m })));
    this.#method.placeholder = known !== undefined ? Object.keys(known).join(", ") : "method";
    if (known !== undefined && this.#method.value === "") {
      this.#method.value = Object.keys(known)[0]!;
      this.#args.value = Object.values(known)[0]!;
    }
    this.#select.title = className !== undefined ? `class ${className}` : "";
  }

  #suggestArgs(): void {
    if (this.#args.value.trim() !== "") return;
    for (const methods of Object.values(KNOWN_METHODS)) {
      const example = methods[this.#method.value];
      if (example !== undefined) {
        this.#args.value = example;
        return;
      }
    }
  }

  /** Makes the call the form describes and shows its outcome. */
  async call(): Promise<void> {
    this.#current?.cancel();
    this.#current = undefined;
    const target = this.#target();
    const method = this.#method.value.trim();
    if (target === undefined || method === "") {
      this.#show("error", { name: "Input", message: target === undefined ? "choose an actor" : "enter a method name" });
      return;
    }
    let args: unknown[];
    try {
      const text = this.#args.value.trim();
      const parsed: unknown = text === "" ? [] : JSON.parse(text);
      args = Array.isArray(parsed) ? parsed : [parsed];
    } catch (error) {
      this.#show("error", describeError(error), "arguments are not valid JSON");
      return;
    }
    const label = `${target.name}${target.nodeId !== undefined ? `@${shortId(target.nodeId)}` : ""}.${method}(${args.map((a) => safeJson(a)).join(", ")})`;
    this.#result.dataset.state = "pending";
    replaceChildren(this.#result, h("div", { class: "result-head" }, h("span", { class: "spinner" }), h("code", {}, label)));
    const started = performance.now();
    try {
      const proxy = target.system
        ? (await pul.getSystemActor(this.#app.system, target.nodeId)).asAny()
        : await pul.resolve(target.name, target.nodeId !== undefined ? { nodeId: target.nodeId } : {});
      const call = proxy.withOptions({ timeout: CALL_TIMEOUT_MS })[method]!(...args);
      this.#current = call;
      const reply: unknown = await call;
      if (isStream(reply)) {
        await this.#showStream(label, reply, started);
      } else {
        this.#show("ok", reply, label, performance.now() - started);
      }
    } catch (error) {
      this.#show("error", describeError(error), label, performance.now() - started);
    } finally {
      this.#current = undefined;
    }
  }

  async #showStream(label: string, stream: AsyncIterable<unknown>, started: number): Promise<void> {
    const items = h("ol", { class: "stream-items" });
    const count = h("span", { class: "muted small" }, "streaming…");
    this.#result.dataset.state = "streaming";
    replaceChildren(this.#result, h("div", { class: "result-head" }, h("span", { class: "badge ok" }, "stream"), h("code", {}, label), count), items);
    let n = 0;
    for await (const item of stream) {
      items.append(h("li", {}, safeJson(item)));
      items.scrollTop = items.scrollHeight;
      if (++n >= MAX_STREAM_ITEMS) break;
    }
    this.#result.dataset.state = "ok";
    count.textContent = `${n} items · ${(performance.now() - started).toFixed(0)} ms`;
  }

  #show(state: "ok", value: unknown, label: string, ms: number): void;
  #show(state: "error", error: { name: string; message: string; details?: string }, label?: string, ms?: number): void;
  #show(state: "ok" | "error", value: unknown, label?: string, ms?: number): void {
    this.#result.dataset.state = state;
    const timing = ms !== undefined ? h("span", { class: "muted small" }, `${ms.toFixed(1)} ms`) : null;
    if (state === "ok") {
      delete this.#result.dataset.errorName;
      replaceChildren(
        this.#result,
        h("div", { class: "result-head" }, h("span", { class: "badge ok" }, "ok"), h("code", {}, label), timing),
        h("pre", { class: "result-value" }, safeJson(value, 2)),
      );
      return;
    }
    const e = value as { name: string; message: string; details?: string };
    this.#result.dataset.errorName = e.name;
    replaceChildren(
      this.#result,
      h("div", { class: "result-head" }, h("span", { class: "badge err error-name" }, e.name), label !== undefined ? h("code", {}, label) : null, timing),
      h("pre", { class: "result-value error-message" }, e.message),
      e.details !== undefined ? h("p", { class: "muted small" }, e.details) : null,
    );
  }
}

function isStream(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === "object" && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function";
}
