/**
 * What the buttons of the panel on the right do: edit, view a past version,
 * restore a field, delete a document; release or drop a quarantined one.
 * Each says its error in the panel and draws it again.
 */
import { api, type Edit } from "./api.js"
import { go, inQuarantine, message, QUARANTINE, state } from "./PageState.js"
import type { QuarantineOutcome } from "./QuarantinePanel.js"

/** What the actions need of the page: drawing the panel, loading history, reloading everything. */
export interface PanelPage {
  drawDocument(): void
  loadOlder(): Promise<void>
  loadHistory(): Promise<void>
  reloadAll(): void
}

export function panelActions(deps: PanelPage) {
  const actions = {
    async edit(id: string, edit: Edit) {
      try {
        state.detail = await api.edit(id, edit)
        state.documentError = undefined
      } catch (error) {
        state.documentError = message(error)
      }
      if (id === state.id) deps.drawDocument()
    },
    viewAt(hash: string) {
      const id = state.id
      if (!id) return
      api.version(id, hash).then(
        version => {
          if (id !== state.id) return
          state.version = version
          state.documentError = undefined
          deps.drawDocument()
        },
        error => {
          state.documentError = message(error)
          deps.drawDocument()
        },
      )
    },
    now() {
      state.version = undefined
      state.documentError = undefined
      deps.drawDocument()
    },
    older() {
      void deps.loadOlder()
    },
    async restore(id: string, hash: string, field: string) {
      try {
        state.detail = await api.restore(id, hash, [field])
        state.version = undefined
        state.documentError = undefined
      } catch (error) {
        state.documentError = message(error)
      }
      if (id === state.id) {
        deps.drawDocument()
        void deps.loadHistory()
      }
    },
    async remove(id: string) {
      try {
        await api.remove(id)
        state.documentError = undefined
      } catch (error) {
        state.documentError = message(error)
      }
      deps.reloadAll()
    },
  }

  /** A released or dropped document leaves the quarantine's panel; the panel says what became of it. */
  function settled(outcome: QuarantineOutcome): void {
    state.outcome = outcome
    state.documentError = undefined
    if (inQuarantine() && state.id === outcome.id) go(QUARANTINE)
    else deps.drawDocument()
  }

  const quarantineActions = {
    async release(id: string) {
      try {
        const released = await api.release(id)
        settled({ id, type: released.document.type, state: "released" })
      } catch (error) {
        // Still refused: the panel stays, with why.
        state.documentError = message(error)
        if (id === state.id) deps.drawDocument()
      }
      deps.reloadAll()
    },
    async drop(id: string) {
      try {
        const dropped = await api.drop(id)
        settled({ id, type: dropped.type, state: "dropped" })
      } catch (error) {
        state.documentError = message(error)
        if (id === state.id) deps.drawDocument()
      }
      deps.reloadAll()
    },
  }
  return { actions, quarantineActions, settled }
}
