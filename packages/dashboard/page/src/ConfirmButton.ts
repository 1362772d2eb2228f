/**
 * A button for what cannot be undone (delete, drop): the first click arms
 * it, a second within a few seconds acts. Two steps instead of a modal
 * confirm(); the armed state lives outside the button, so a live update that
 * redraws the panel between the clicks keeps it, and a click that lands on a
 * button a redraw is replacing arms the one that replaces it too.
 */
import { h } from "./dom.js"

export interface ConfirmButtonOptions {
  /** What it acts on, e.g. "delete ID": arming one button disarms any other. */
  key: string
  /** Its `data-action`, for tests and styles. */
  action: string
  label: string
  /** The label while armed ("Click again to delete"). */
  confirm: string
  /** Shown, disabled, when there is nothing to do (a document already deleted). */
  done?: string
  run: () => void
}

let armed: { key: string; until: number } | undefined
const ARMED_MS = 4000
const REFRESH = "cairn-confirm-refresh"

/** Show the armed state on every confirm button on the page now. */
function showAll(): void {
  for (const button of document.querySelectorAll("button[data-confirm]")) button.dispatchEvent(new Event(REFRESH))
}

export function confirmButton(options: ConfirmButtonOptions): HTMLButtonElement {
  const { key, action, label, confirm, done, run } = options
  const button = h("button", { type: "button", class: "danger", "data-action": action, disabled: done !== undefined }, done ?? label)
  const showArmed = () => {
    if (done !== undefined) return
    const on = armed?.key === key && armed.until > Date.now()
    if (on) button.dataset.armed = "true"
    else delete button.dataset.armed
    button.textContent = on ? confirm : label
  }
  showArmed()
  button.dataset.confirm = ""
  button.addEventListener(REFRESH, showArmed)
  button.addEventListener("click", () => {
    if (button.dataset.armed) {
      armed = undefined
      button.disabled = true
      run()
      return
    }
    armed = { key, until: Date.now() + ARMED_MS }
    showArmed()
    showAll()
    setTimeout(showAll, ARMED_MS + 50)
  })
  return button
}
