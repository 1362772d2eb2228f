/** Times, ids and type selections as people read them. */
import { h } from "./dom.js"

/** Server time minus this browser's time, so "5 s ago" is right even when the clocks differ. */
let skew = 0
export function setServerNow(now: number): void {
  skew = now - Date.now()
}

export function ago(time: number): string {
  const seconds = Math.max(0, Math.round((Date.now() + skew - time) / 1000))
  if (seconds < 5) return "just now"
  if (seconds < 60) return `${seconds} s ago`
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  if (hours < 48) return `${hours} h ago`
  return new Date(time).toLocaleDateString()
}

/** A <time> that keeps saying how long ago it was (see `refreshTimes`). */
export function timeAgo(time: number): HTMLTimeElement {
  return h("time", { datetime: new Date(time).toISOString(), title: new Date(time).toLocaleString(), "data-ago": time }, ago(time))
}

export function refreshTimes(root: ParentNode = document): void {
  for (const element of root.querySelectorAll<HTMLElement>("[data-ago]")) element.textContent = ago(Number(element.dataset.ago))
}

export function shortId(id: string, length = 8): string {
  return id.length > length ? id.slice(0, length) : id
}

/** A machine as "this machine" for `self`, else by its name where known, else a short id. */
export function machineLabel(id: string, self: string, name?: string): HTMLElement {
  if (id === self) return h("span", { class: "self", title: id }, "this machine")
  return name ? h("span", { class: "machine-name", title: id }, name) : h("code", { title: id }, shortId(id, 12))
}

export function types(selection: "*" | readonly string[]): string {
  if (selection === "*") return "all types"
  if (selection.length === 0) return "no types"
  return selection.join(", ")
}
