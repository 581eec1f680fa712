import * as pul from "pulsing";
import { TOKEN_STREAMER_NAME, TokenStreamer } from "../../examples/demo-actors.js";
import type { App } from "../app.js";
import { h, replaceChildren } from "../dom.js";
import { RUNTIME_LABEL, describeError, shortId } from "../util.js";
import { card } from "./card.js";

type StreamState = "idle" | "connecting" | "streaming" | "done" | "cancelled" | "error";

/**
 * Streaming tokens (`#stream-start`, `#stream-output`, `#stream-cancel`): resolves the `TokenStreamer` another
 * node hosts (the seed), calls its generator method and renders each token as it arrives. Cancel calls the
 * stream's `cancel()`, which stops the generator on the other node (its `finally` runs).
 */
export class StreamPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #prompt: HTMLInputElement;
  readonly #count: HTMLInputElement;
  readonly #start: HTMLButtonElement;
  readonly #cancel: HTMLButtonElement;
  readonly #output: HTMLElement;
  readonly #status: HTMLElement;
  #stream: pul.ActorStream<string> | undefined;

  constructor(app: App) {
    this.#app = app;
    this.#prompt = h("input", { id: "stream-prompt", value: "tell me about actors", placeholder: "prompt", autocomplete: "off" });
    this.#count = h("input", { id: "stream-count", type: "number", min: 1, max: 1000, value: 60, title: "tokens" });
    this.#start = h("button", { id: "stream-start", type: "submit", class: "btn primary" }, "Stream tokens");
    this.#cancel = h("button", { id: "stream-cancel", type: "button", class: "btn danger", disabled: true, onclick: () => this.cancel() }, "Cancel");
    this.#output = h("div", { id: "stream-output", class: "stream-output", "data-state": "idle", "aria-live": "polite" });
    this.#status = h("div", { id: "stream-status", class: "muted small" }, `from the ${TOKEN_STREAMER_NAME} actor on another node`);
    this.element = card(
      { id: "stream-card", title: "Streaming", subtitle: "an async generator on another node, with backpressure" },
      h(
        "form",
        {
          class: "row stream-form",
          onsubmit: (e: SubmitEvent) => {
            e.preventDefault();
            void this.start();
          },
        },
        h("label", { class: "field grow" }, h("span", {}, "prompt"), this.#prompt),
        h("label", { class: "field narrow" }, h("span", {}, "tokens"), this.#count),
        this.#start,
        this.#cancel,
      ),
      this.#output,
      this.#status,
    );
  }

  /** The streamer to use: one hosted on another node when there is one. */
  async #resolve(): Promise<{ proxy: pul.ActorProxy<TokenStreamer>; nodeId: string | undefined }> {
    const { system, selfId } = this.#app;
    const hosts = system.members().filter((m) => m.status === "alive" && m.actors.includes(TOKEN_STREAMER_NAME));
    const host = hosts.find((m) => m.nodeId !== selfId) ?? hosts[0];
    const proxy = await pul.resolve(TOKEN_STREAMER_NAME, { cls: TokenStreamer, timeout: 3_000, ...(host !== undefined ? { nodeId: host.nodeId } : {}) });
    return { proxy, nodeId: host?.nodeId ?? proxy.ref.actorId.nodeId };
  }

  async start(): Promise<void> {
    const previous = this.#stream;
    this.#stream = undefined;
    previous?.cancel();
    const count = Math.max(1, Math.min(1000, Math.floor(Number(this.#count.value) || 60)));
    this.#setState("connecting");
    replaceChildren(this.#output, h("span", { class: "caret" }));
    this.#status.textContent = `resolving ${TOKEN_STREAMER_NAME}…`;
    let tokens = 0;
    let started = 0;
    let where = "";
    let stream: pul.ActorStream<string> | undefined;
    try {
      const { proxy, nodeId } = await this.#resolve();
      const member = this.#app.system.members().find((m) => m.nodeId === nodeId);
      where = nodeId === undefined ? "" : `${shortId(nodeId)}${member !== undefined ? ` (${RUNTIME_LABEL[member.runtime]})` : ""}`;
      stream = proxy.generate(this.#prompt.value, count);
      this.#stream = stream;
      this.#setState("streaming");
      this.#status.textContent = `streaming from ${where}…`;
      started = performance.now();
      const caret = this.#output.querySelector(".caret")!;
      for await (const token of stream) {
        tokens++;
        caret.before(h("span", { class: "token" }, token));
        this.#output.dataset.tokens = String(tokens);
        const secs = (performance.now() - started) / 1000;
        this.#status.textContent = `streaming from ${where} · ${tokens}/${count} tokens · ${(tokens / Math.max(secs, 0.001)).toFixed(1)} tok/s`;
        this.#output.scrollTop = this.#output.scrollHeight;
      }
      if (this.#stream === stream) {
        const cancelled = this.#output.dataset.state === "cancelled";
        if (!cancelled) this.#setState("done");
        this.#status.textContent = `${cancelled ? "cancelled" : "done"} · ${tokens} tokens from ${where} in ${((performance.now() - started) / 1000).toFixed(1)} s`;
      }
    } catch (error) {
      if (this.#stream === stream) {
        const e = describeError(error);
        this.#setState(this.#output.dataset.state === "cancelled" ? "cancelled" : "error");
        this.#status.replaceChildren(h("span", { class: "badge err" }, e.name), ` ${e.message}`);
      }
    } finally {
      if (this.#stream === stream) {
        this.#stream = undefined;
        this.#cancel.disabled = true;
        this.#start.disabled = false;
      }
    }
  }

  /** Cancels the running stream, if any. */
  cancel(): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#setState("cancelled");
    stream.cancel();
  }

  #setState(state: StreamState): void {
    this.#output.dataset.state = state;
    const running = state === "connecting" || state === "streaming";
    this.#cancel.disabled = !running;
    this.#start.disabled = state === "connecting";
  }
}
