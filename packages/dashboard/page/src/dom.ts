/** A few lines of DOM building, so views read as the markup they make. */

export type Child = Node | string | number | null | undefined | false | Child[]
type Props = Record<string, unknown>

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "title", "placeholder", "type", "rows"])

function apply(element: Element, props: Props): void {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith("on") && typeof value === "function") element.addEventListener(key.slice(2).toLowerCase(), value as EventListener)
    else if (key === "class") element.setAttribute("class", String(value))
    else if (PROPERTIES.has(key) && key in element) (element as unknown as Record<string, unknown>)[key] = value
    else element.setAttribute(key, value === true ? "" : String(value))
  }
}

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(parent, child)
    else parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)))
  }
}

/** An HTML element: `h("button", { class: "x", onClick: go }, "Go")`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  apply(element, props)
  append(element, children)
  return element
}

/** An SVG element. */
export function s<K extends keyof SVGElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const element = document.createElementNS("http://www.w3.org/2000/svg", tag)
  apply(element, props)
  append(element, children)
  return element
}

/** Replace an element's children. */
export function fill(parent: Element, ...children: Child[]): void {
  parent.replaceChildren()
  append(parent, children)
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id)
  if (!element) throw new Error(`the page has no #${id}`)
  return element as T
}
