import { h, type Child } from "../dom.js";

/** A dashboard card: a titled section. `aside` goes to the right of the title. */
export function card(options: { id: string; title: string; subtitle?: string; aside?: Child; className?: string }, ...body: Child[]): HTMLElement {
  return h(
    "section",
    { class: `card ${options.className ?? ""}`.trim(), id: options.id },
    h(
      "header",
      { class: "card-head" },
      h("div", {}, h("h2", {}, options.title), options.subtitle !== undefined ? h("p", { class: "card-sub" }, options.subtitle) : null),
      options.aside ?? null,
    ),
    ...body,
  );
}
