/**
 * The Cairn dashboard: types on the left, the documents of the selected
 * type in the middle, the selected document on the right, the network
 * below. Documents refused on arrival have their own entry beside the
 * types (#/!quarantine/id). The address says what is selected (#/type/id),
 * and the server's event stream keeps every part current.
 */
import "./style.css"
import {
  api,
  ApiError,
  type ChangeView,
  type DocumentDetail,
  type DocumentSummary,
  type Edit,
  type Overview,
  type PresenceView,
  type QuarantinedDetail,
  type QuarantinedSummary,
  type VersionView,
} from "./api.js"
import { DocumentFinder, PAGE_SIZE } from "./DocumentFinder.js"
import { renderDocument, renderEmptyDocument } from "./DocumentPanel.js"
import { renderDocuments } from "./DocumentList.js"
import { byId, fill, h } from "./dom.js"
import { refreshTimes, setServerNow, shortId, types } from "./format.js"
import { connectLive, type LiveState } from "./LiveEvents.js"
import { openNewDocument } from "./NewDocumentForm.js"
import { renderNetwork } from "./PeersGraph.js"
import { renderQuarantineList } from "./QuarantineList.js"
import { renderOutcome, renderQuarantined, type QuarantineOutcome } from "./QuarantinePanel.js"
import { renderTypes } from "./TypeList.js"
import { renderTypeSchema } from "./TypeSchema.js"
import { renderMismatches } from "./SchemaMismatches.js"

const view = {
  machine: byId("machine"),
  live: byId("live"),
  types: byId("types"),
  documents: byId("documents"),
  documentsHeading: byId("documents-heading"),
  finder: byId("finder"),
  typeSchema: byId("type-schema"),
  showDeleted: byId<HTMLInputElement>("show-deleted"),
  document: byId("document"),
  graph: byId("graph"),
  peerTable: byId("peer-table"),
  mismatches: byId("mismatches"),
  dialog: byId<HTMLDialogElement>("create-dialog"),
  newDocument: byId<HTMLButtonElement>("new-document"),
}

/** The quarantine's place in the address: no type name starts with "!". */
const QUARANTINE = "!quarantine"

const state = {
  overview: undefined as Overview | undefined,
  type: undefined as string | undefined,
  id: undefined as string | undefined,
  docs: [] as DocumentSummary[],
  total: 0,
  indexing: undefined as { read: number; of: number } | undefined,
  offset: 0,
  sort: "modifiedAt",
  order: "desc" as "asc" | "desc",
  /** The document's changes loaded so far (newest first, with diffs), and how many it has. */
  changes: [] as ChangeView[],
  changesTotal: 0,
  /** The past version open in the panel, if any. */
  version: undefined as VersionView | undefined,
  presence: undefined as PresenceView | undefined,
  detail: undefined as DocumentDetail | undefined,
  documentError: undefined as string | undefined,
  fresh: new Set<string>(),
  /** Undefined until the quarantine's list has loaded. */
  quarantine: undefined as { docs: QuarantinedSummary[]; total: number } | undefined,
  quarantined: undefined as QuarantinedDetail | undefined,
  /** A document this page saw released or dropped, said in the panel until something else is picked. */
  outcome: undefined as QuarantineOutcome | undefined,
}

const inQuarantine = () => state.type === QUARANTINE

const finder = new DocumentFinder(view.finder, () => void loadList())

// ---- what is selected: the address is the truth, so links and reloads work

function readAddress(): void {
  const [type, id] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent)
  const typeChanged = (type || undefined) !== state.type
  const idChanged = (id || undefined) !== state.id
  state.type = type || undefined
  state.id = id || undefined
  if (typeChanged) {
    state.docs = []
    state.total = 0
    finder.reset(state.type ? state.overview?.schemas[state.type]?.fields : undefined)
    view.finder.hidden = !state.type || inQuarantine()
    void loadList()
  }
  if (idChanged) {
    state.detail = undefined
    state.changes = []
    state.changesTotal = 0
    state.version = undefined
    state.quarantined = undefined
    state.documentError = undefined
    void loadPanel()
  }
  if ((typeChanged || idChanged) && state.outcome && !(inQuarantine() && !state.id)) state.outcome = undefined
  view.showDeleted.parentElement!.hidden = inQuarantine()
  drawTypes()
  drawDocuments()
}

function go(type: string | undefined, id?: string): void {
  const hash = type ? `#/${encodeURIComponent(type)}${id ? `/${encodeURIComponent(id)}` : ""}` : ""
  if (location.hash !== hash) location.hash = hash
}

// ---- loading: when requests overlap, only the newest answer is shown

function latest<T>(request: () => Promise<T> | undefined, show: (value: T | undefined, error?: unknown) => void): () => Promise<void> {
  let generation = 0
  return async () => {
    const mine = ++generation
    try {
      const value = await request()
      if (mine === generation) show(value)
    } catch (error) {
      if (mine === generation) show(undefined, error)
    }
  }
}

const message = (error: unknown) => (error instanceof ApiError ? error.message : String(error))

const loadOverview = latest(api.overview, (overview, error) => {
  if (!overview) return console.error(error)
  const quarantineChanged = overview.quarantined !== state.overview?.quarantined
  state.overview = overview
  setServerNow(overview.now)
  // A release made elsewhere (the CLI) arrives as a change: the count says the list is out of date.
  if (quarantineChanged && inQuarantine()) reload.documents()
  const name = overview.machine.name
  fill(
    view.machine,
    name ? h("strong", {}, name) : null,
    " ",
    h("code", { title: overview.machine.machineId }, shortId(overview.machine.machineId, 12)),
    h("span", { class: "muted" }, ` · wants ${types(overview.machine.wants)}${overview.machine.relay ? " · relay" : ""}`),
  )
  const first = overview.types.find(t => t.count > 0)
  if (!state.type && first) {
    history.replaceState(null, "", `#/${encodeURIComponent(first.type)}`)
    readAddress()
  }
  if (state.type && !inQuarantine()) finder.offer(overview.schemas[state.type]?.fields)
  drawTypes()
  drawTypeSchema()
  drawNetwork()
})

const loadDocuments = latest(
  () => (state.type ? api.documents(state.type, finder.params(view.showDeleted.checked)) : undefined),
  (list, error) => {
    if (error) console.error(error)
    if (list && list.type !== state.type) return
    state.docs = list?.docs ?? []
    state.total = list?.total ?? 0
    state.indexing = list?.indexing
    // The server is still reading the type for its index: ask again for the rest.
    if (list?.indexing) setTimeout(() => reload.documents(), INDEXING_RETRY_MS)
    state.offset = list?.offset ?? 0
    state.sort = list?.sort ?? finder.sort
    state.order = list?.order ?? finder.order
    drawDocuments()
  },
)

/** The newest page of changes, or (with `more`) the next older page after those shown. */
const loadHistory = latest(
  () => (state.id ? api.history(state.id, 0, Math.min(MAX_HISTORY_PAGE, Math.max(HISTORY_PAGE, state.changes.length))) : undefined),
  (page, error) => {
    if (error) console.error(error)
    if (!page || page.id !== state.id) return
    state.changes = page.changes
    state.changesTotal = page.total
    drawDocument()
  },
)
const HISTORY_PAGE = 20
const INDEXING_RETRY_MS = 1000
/** The most changes the server gives in one page (see DocumentHistory.ts). */
const MAX_HISTORY_PAGE = 200

async function loadOlder(): Promise<void> {
  const id = state.id
  if (!id) return
  const page = await api.history(id, state.changes.length, HISTORY_PAGE)
  if (id !== state.id) return
  state.changes = [...state.changes, ...page.changes.filter(c => !state.changes.some(known => known.hash === c.hash))]
  state.changesTotal = page.total
  drawDocument()
}

const loadPresence = latest(api.presence, (presence, error) => {
  if (!presence) return console.error(error)
  state.presence = presence
  drawNetwork()
})

const loadQuarantine = latest(api.quarantine, (list, error) => {
  if (error) console.error(error)
  if (!inQuarantine()) return
  state.quarantine = list ?? { docs: [], total: 0 }
  drawDocuments()
})

const loadQuarantined = latest(
  () => (state.id ? api.quarantined(state.id) : undefined),
  (detail, error) => {
    if (detail && detail.id !== state.id) return
    state.quarantined = detail
    if (error) state.documentError = message(error)
    drawDocument()
  },
)

const loadList = () => (inQuarantine() ? loadQuarantine() : loadDocuments())
const loadPanel = () => (inQuarantine() ? loadQuarantined() : loadDocument())

const loadDocument = latest(
  () => (state.id ? api.document(state.id) : undefined),
  (detail, error) => {
    if (detail && detail.document.id !== state.id) return
    state.detail = detail
    if (error) state.documentError = message(error)
    drawDocument()
    if (detail) void loadHistory()
  },
)

/** Many events in a burst (a sync) become one reload. */
function debounced(run: () => void, ms = 120): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined
  return () => {
    clearTimeout(timer)
    timer = setTimeout(run, ms)
  }
}
const reload = {
  overview: debounced(() => void loadOverview()),
  documents: debounced(() => void loadList()),
  document: debounced(() => void loadPanel()),
  all() {
    reload.overview()
    reload.documents()
    reload.document()
  },
}

// ---- drawing

function drawTypes(): void {
  const quarantine = { count: state.overview?.quarantined ?? 0, selected: inQuarantine(), open: () => go(QUARANTINE) }
  renderTypes(view.types, state.overview?.types ?? [], state.type, type => go(type), quarantine)
}

function drawTypeSchema(): void {
  const shown = inQuarantine() ? undefined : state.type
  renderTypeSchema(
    view.typeSchema,
    shown,
    shown ? state.overview?.schemas[shown] : undefined,
    shown ? state.overview?.schemaSources[shown] : undefined,
  )
}

function drawDocuments(): void {
  drawTypeSchema()
  if (inQuarantine())
    return renderQuarantineList(
      view.documents,
      view.documentsHeading,
      state.quarantine && { ...state.quarantine, selected: state.id, fresh: state.fresh },
      id => go(QUARANTINE, id),
    )
  renderDocuments(
    view.documents,
    view.documentsHeading,
    {
      type: state.type,
      docs: state.docs,
      total: state.total,
      offset: state.offset,
      sort: state.sort,
      order: state.order,
      fields: state.type ? state.overview?.schemas[state.type]?.fields : undefined,
      narrowed: finder.search !== "" || finder.filters.length > 0,
      indexing: state.indexing,
      selected: state.id,
      fresh: state.fresh,
    },
    { select: id => go(state.type, id), sortBy: column => finder.sortBy(column), page: offset => finder.page(offset) },
    PAGE_SIZE,
  )
}

function drawDocument(): void {
  if (inQuarantine()) return drawQuarantined()
  if (!state.id) return renderEmptyDocument(view.document, state.type ? "Pick a document." : "Pick a type, then a document.")
  if (!state.detail) return renderEmptyDocument(view.document, state.documentError ?? "Loading…")
  renderDocument(view.document, state.detail, state.overview?.machine.machineId ?? "", actions, state.documentError, {
    changes: state.changes,
    total: state.changesTotal,
    version: state.version,
  })
}

function drawQuarantined(): void {
  if (!state.id && state.outcome) return renderOutcome(view.document, state.outcome, (type, id) => go(type, id))
  if (!state.id)
    return renderEmptyDocument(
      view.document,
      state.quarantine?.total === 0 ? "Nothing is quarantined." : "Pick a quarantined document to see why it was refused.",
    )
  if (!state.quarantined) return renderEmptyDocument(view.document, state.documentError ?? "Loading…")
  renderQuarantined(view.document, state.quarantined, state.overview?.machine.machineId ?? "", quarantineActions, state.documentError)
}

function drawNetwork(): void {
  if (!state.overview) return
  renderNetwork(view.graph, view.peerTable, state.overview, state.presence)
  renderMismatches(view.mismatches, state.overview.peers)
}

const actions = {
  async edit(id: string, edit: Edit) {
    try {
      state.detail = await api.edit(id, edit)
      state.documentError = undefined
    } catch (error) {
      state.documentError = message(error)
    }
    if (id === state.id) drawDocument()
  },
  viewAt(hash: string) {
    const id = state.id
    if (!id) return
    api.version(id, hash).then(
      version => {
        if (id !== state.id) return
        state.version = version
        state.documentError = undefined
        drawDocument()
      },
      error => {
        state.documentError = message(error)
        drawDocument()
      },
    )
  },
  now() {
    state.version = undefined
    state.documentError = undefined
    drawDocument()
  },
  older() {
    void loadOlder()
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
      drawDocument()
      void loadHistory()
    }
  },
  async remove(id: string) {
    try {
      await api.remove(id)
      state.documentError = undefined
    } catch (error) {
      state.documentError = message(error)
    }
    reload.all()
  },
}

/** A released or dropped document leaves the quarantine's panel; the panel says what became of it. */
function settled(outcome: QuarantineOutcome): void {
  state.outcome = outcome
  state.documentError = undefined
  if (inQuarantine() && state.id === outcome.id) go(QUARANTINE)
  else drawDocument()
}

const quarantineActions = {
  async release(id: string) {
    try {
      const released = await api.release(id)
      settled({ id, type: released.document.type, state: "released" })
    } catch (error) {
      // Still refused: the panel stays, with why.
      state.documentError = message(error)
      if (id === state.id) drawDocument()
    }
    reload.all()
  },
  async drop(id: string) {
    try {
      const dropped = await api.drop(id)
      settled({ id, type: dropped.type, state: "dropped" })
    } catch (error) {
      state.documentError = message(error)
      if (id === state.id) drawDocument()
    }
    reload.all()
  },
}

// ---- live

/** A document that just changed or arrived flashes in its list. */
function flash(id: string): void {
  state.fresh.add(id)
  setTimeout(() => {
    state.fresh.delete(id)
    view.documents.querySelector(`[data-id="${CSS.escape(id)}"]`)?.classList.remove("fresh")
  }, 2000)
}

function setLive(live: LiveState): void {
  view.live.dataset.state = live
  view.live.querySelector(".label")!.textContent = live === "live" ? "live" : live
}

connectLive({
  state: setLive,
  hello: () => {
    reload.all()
    void loadPresence()
  },
  resync: () => reload.all(),
  change: change => {
    flash(change.id)
    reload.overview()
    if (change.type === state.type) reload.documents()
    if (change.id === state.id) reload.document()
  },
  presence: presence => {
    state.presence = presence
    setServerNow(presence.now)
    drawNetwork()
  },
  quarantine: update => {
    reload.overview()
    if (!inQuarantine()) return
    if (update.state === "quarantined") flash(update.id)
    reload.documents()
    if (update.id === state.id && update.state !== "quarantined") settled({ id: update.id, type: update.type, state: update.state })
  },
  peers: update => {
    if (!state.overview) return
    const { peers, connections, now } = update as Pick<Overview, "peers" | "connections" | "now">
    state.overview = { ...state.overview, peers, connections }
    setServerNow(now)
    drawNetwork()
  },
})

// ---- wiring

view.showDeleted.addEventListener("change", () => void loadList())
view.newDocument.addEventListener("click", () =>
  openNewDocument(view.dialog, {
    types: state.overview?.types.map(t => t.type) ?? [],
    schemas: state.overview?.schemas ?? {},
    initialType: inQuarantine() ? undefined : state.type,
    create: (type, data) => api.create(type, data),
    created: detail => {
      state.fresh.add(detail.document.id)
      go(detail.document.type, detail.document.id)
      reload.all()
    },
  }),
)
window.addEventListener("hashchange", readAddress)
setInterval(() => {
  refreshTimes()
  drawNetwork()
}, 5000)

readAddress()
void loadOverview()
