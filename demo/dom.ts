/** Tiny DOM helpers: build HTML and SVG elements declaratively, without a framework. */

export type Child = Node | string | number | null | undefined | false | Child[];
type AttrValue = string | number | boolean | null | undefined;
export type Attrs = Record<string, AttrValue | ((event: any) => void)>;

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el: Element, attrs: Attrs | undefined, children: Child[]): void {
  if (attrs !== undefined) {
    for (const [key, value] of Object.entries(attrs)) {
      if (typeof value === "function") {
        el.addEventListener(key.replace(/^on/, "").toLowerCase(), value as EventListener);
      } else {
        setAttr(el, key, value);
      }
    }
  }
  append(el, children);
}

function append(el: Element, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Sets an attribute; `false`, `null` and `undefined` remove it, `true` sets it empty. */
export function setAttr(el: Element, key: string, value: AttrValue): void {
  if (value === false || value === null || value === undefined) el.removeAttribute(key);
  else el.setAttribute(key, value === true ? "" : String(value));
}

/** An HTML element: `h("button", { id: "go", onclick: () => … }, "Go")`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

/** An SVG element. */
export function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs?: Attrs, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs, children);
  return el;
}

/** Replaces an element's children. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** Briefly highlights an element (a CSS animation on `.flash`). */
export function flash(el: Element): void {
  el.classList.remove("flash");
  void (el as HTMLElement).offsetWidth; // restart the animation
  el.classList.add("flash");
}
