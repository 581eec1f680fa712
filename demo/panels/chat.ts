import * as pul from "pulsing";
import { CHAT_LOBBY_NAME, ChatListener, ChatRoom, type ChatMessage } from "../../examples/demo-actors.js";
import type { App } from "../app.js";
import { h } from "../dom.js";
import { clockTime, describeError, shortId, sleep } from "../util.js";
import { card } from "./card.js";

const CALL_TIMEOUT_MS = 5_000;
/** How often the tab re-joins: the room drops members it cannot reach, and a re-join is a no-op otherwise. */
const REJOIN_MS = 20_000;

/**
 * Chat between tabs (`#chat-input`, `#chat-send`, `#chat-log`): the tab mounts a private `ChatListener` actor
 * and joins the `chat/lobby` `ChatRoom` (hosted by the seed) with a proxy to it; the room pushes every message to
 * each member by calling `deliver(msg)` on its listener, which appends it here.
 */
export class ChatPanel {
  readonly element: HTMLElement;
  readonly #app: App;
  readonly #log: HTMLElement;
  readonly #input: HTMLInputElement;
  readonly #send: HTMLButtonElement;
  readonly #nameInput: HTMLInputElement;
  readonly #status: HTMLElement;
  readonly #seen = new Set<number>();
  #room: pul.ActorProxy<ChatRoom> | undefined;
  #listener: pul.ActorProxy<ChatListener> | undefined;
  #joining: Promise<pul.ActorProxy<ChatRoom>> | undefined;
  #name: string;

  constructor(app: App) {
    this.#app = app;
    this.#name = `tab-${shortId(app.selfId)}`;
    this.#log = h("ol", { id: "chat-log", class: "chat-log", "aria-live": "polite" });
    this.#nameInput = h("input", {
      id: "chat-name",
      value: this.#name,
      maxlength: 40,
      title: "your name in the room",
      autocomplete: "off",
      onchange: () => void this.#rename(),
    });
    this.#input = h("input", { id: "chat-input", placeholder: "say something to the other tabs…", maxlength: 500, autocomplete: "off" });
    this.#send = h("button", { id: "chat-send", type: "submit", class: "btn primary" }, "Send");
    this.#status = h("span", { id: "chat-status", class: "muted small" }, "joining…");
    this.element = card(
      { id: "chat-card", title: "Chat between tabs", subtitle: `the ${CHAT_LOBBY_NAME} room pushes messages to each tab's listener actor`, aside: this.#status },
      this.#log,
      h(
        "form",
        {
          class: "row chat-form",
          onsubmit: (e: SubmitEvent) => {
            e.preventDefault();
            void this.send();
          },
        },
        h("label", { class: "field narrow name-field" }, h("span", {}, "name"), this.#nameInput),
        h("label", { class: "field grow" }, h("span", {}, "message"), this.#input),
        this.#send,
      ),
    );
    addEventListener("pagehide", () => {
      if (this.#room !== undefined && this.#listener !== undefined) void this.#room.leave(this.#listener).catch(() => {});
    });
  }

  /** Mounts the listener and joins the lobby, retrying until the room can be found. */
  async start(): Promise<void> {
    for (let attempt = 0; this.#app.system.isRunning; attempt++) {
      try {
        await this.#join();
        setInterval(() => {
          if (this.#room !== undefined && this.#joining === undefined) void this.#join().catch(() => {});
        }, REJOIN_MS);
        return;
      } catch (error) {
        const e = describeError(error);
        this.#setStatus("error", `${e.name}: ${e.message} — retrying`);
        await sleep(Math.min(10_000, 1_000 * 2 ** attempt));
      }
    }
  }

  #join(): Promise<pul.ActorProxy<ChatRoom>> {
    this.#joining ??= (async () => {
      try {
        if (this.#listener === undefined) {
          const ref = await pul.mount(new ChatListener((msg) => this.#receive(msg)), { name: `tab/${shortId(this.#app.selfId)}/chat`, public: false });
          this.#listener = ref.asType(ChatListener);
        }
        const room = (await pul.resolve(CHAT_LOBBY_NAME, { cls: ChatRoom, timeout: 10_000 })).withOptions({ timeout: CALL_TIMEOUT_MS });
        const history = await room.join(this.#name, this.#listener);
        for (const msg of history) this.#receive(msg);
        this.#room = room;
        this.#setStatus("joined", `in ${CHAT_LOBBY_NAME} on ${shortId(room.ref.actorId.nodeId)} as ${this.#name}`);
        return room;
      } finally {
        this.#joining = undefined;
      }
    })();
    return this.#joining;
  }

  async #rename(): Promise<void> {
    const name = this.#nameInput.value.trim();
    if (name === "" || name === this.#name) {
      this.#nameInput.value = this.#name;
      return;
    }
    this.#name = name;
    this.#room = undefined;
    try {
      await this.#join();
    } catch (error) {
      const e = describeError(error);
      this.#setStatus("error", `${e.name}: ${e.message}`);
    }
  }

  /** Posts the input's text; the room delivers it back to every member, this tab included. */
  async send(): Promise<void> {
    const text = this.#input.value;
    if (text.trim() === "") return;
    this.#send.disabled = true;
    try {
      const room = this.#room ?? (await this.#join());
      await room.post(this.#name, text);
      this.#input.value = "";
      this.#input.focus();
    } catch (error) {
      const e = describeError(error);
      this.#append({ id: -Date.now(), from: e.name, text: e.message, at: Date.now(), system: true }, "error");
      if (e.name === "PulsingRuntimeError") this.#room = undefined; // gone? re-resolve next time
    } finally {
      this.#send.disabled = false;
    }
  }

  #receive(msg: ChatMessage): void {
    if (this.#seen.has(msg.id)) return;
    this.#seen.add(msg.id);
    this.#append(msg);
  }

  #append(msg: ChatMessage, extraClass?: string): void {
    const mine = !msg.system && msg.from === this.#name;
    const li = h(
      "li",
      {
        class: ["msg", msg.system ? "system" : "", mine ? "mine" : "", extraClass ?? ""].filter(Boolean).join(" "),
        "data-id": msg.id,
        "data-from": msg.from,
      },
      msg.system ? null : h("span", { class: "from" }, msg.from),
      h("span", { class: "text" }, msg.text),
      h("time", { class: "time" }, clockTime(msg.at)),
    );
    // Keep room messages in id order (a delivery can overtake the history of a join).
    const after = msg.id > 0 ? [...this.#log.children].find((el) => Number((el as HTMLElement).dataset.id) > msg.id) : undefined;
    if (after !== undefined) after.before(li);
    else this.#log.append(li);
    this.#log.scrollTop = this.#log.scrollHeight;
  }

  #setStatus(state: "joined" | "error", text: string): void {
    this.#status.textContent = text;
    this.#status.className = state === "joined" ? "ok small" : "error small";
    this.element.dataset.chat = state;
  }
}
