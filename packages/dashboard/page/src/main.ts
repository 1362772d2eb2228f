/**
 * The Cairn dashboard: types on the left, the documents of the selected
 * type in the middle, the selected document on the right, the network
 * below. Documents refused on arrival have their own entry beside the
 * types (#/!quarantine/id). The address says what is selected (#/type/id),
 * and the server's event stream keeps every part current.
 */
import "./style.css"
import { api, type Overview } from "./api.js"
import { DocumentFinder, PAGE_SIZE } from "./DocumentFinder.js"
import { renderDocument, renderEmptyDocument } from "./DocumentPanel.js"
import { renderDocuments } from "./DocumentList.js"
import { fill, h } from "./dom.js"
import { refreshTimes, setServerNow, shortId, types } from "./format.js"
import { connectLive, type LiveState } from "./LiveEvents.js"
import { openNewDocument } from "./NewDocumentForm.js"
import { renderNetwork } from "./PeersGraph.js"
import { renderQuarantineList } from "./QuarantineList.js"
import { renderOutcome, renderQuarantined } from "./QuarantinePanel.js"
import { go, inQuarantine, message, QUARANTINE, state, view } from "./PageState.js"
import { panelActions } from "./PanelActions.js"
import { renderTypes } from "./TypeList.js"
import { renderTypeSchema } from "./TypeSchema.js"
import { renderMismatches } from "./SchemaMismatches.js"

const finder = new DocumentFinder(view.finder, () => void loadList())
const { actions, quarantineActions, settled } = panelActions({
  drawDocument: () => drawDocument(),
  loadOlder: () => loadOlder(),
  loadHistory: () => loadHistory(),
  reloadAll: () => reload.all(),
})

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
