/**
 * The Cairn dashboard: types on the left, the documents of the selected
 * type in the middle, the selected document on the right, the network
 * below. The address says what is selected (#/type/id), and the server's
 * event stream keeps every part current.
 */
import "./style.css"
import { api, ApiError, type DocumentDetail, type DocumentSummary, type Edit, type Overview } from "./api.js"
import { renderDocument, renderEmptyDocument } from "./DocumentPanel.js"
import { renderDocuments } from "./DocumentList.js"
import { byId, fill, h } from "./dom.js"
import { refreshTimes, setServerNow, shortId, types } from "./format.js"
import { connectLive, type LiveState } from "./LiveEvents.js"
import { openNewDocument } from "./NewDocumentForm.js"
import { renderNetwork } from "./PeersGraph.js"
import { renderTypes } from "./TypeList.js"

const view = {
  machine: byId("machine"),
  live: byId("live"),
  types: byId("types"),
  documents: byId("documents"),
  documentsHeading: byId("documents-heading"),
  showDeleted: byId<HTMLInputElement>("show-deleted"),
  document: byId("document"),
  graph: byId("graph"),
  peerTable: byId("peer-table"),
  dialog: byId<HTMLDialogElement>("create-dialog"),
  newDocument: byId<HTMLButtonElement>("new-document"),
}

const state = {
  overview: undefined as Overview | undefined,
  type: undefined as string | undefined,
  id: undefined as string | undefined,
  docs: [] as DocumentSummary[],
  total: 0,
  detail: undefined as DocumentDetail | undefined,
  documentError: undefined as string | undefined,
  fresh: new Set<string>(),
}

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
    void loadDocuments()
  }
  if (idChanged) {
    state.detail = undefined
    state.documentError = undefined
    void loadDocument()
  }
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
  state.overview = overview
  setServerNow(overview.now)
  const name = overview.machine.name
  fill(view.machine, name ? h("strong", {}, name) : null, " ", h("code", { title: overview.machine.machineId }, shortId(overview.machine.machineId, 12)), h("span", { class: "muted" }, ` · wants ${types(overview.machine.wants)}${overview.machine.relay ? " · relay" : ""}`))
  const first = overview.types.find(t => t.count > 0)
  if (!state.type && first) {
    history.replaceState(null, "", `#/${encodeURIComponent(first.type)}`)
    readAddress()
  }
  drawTypes()
  drawNetwork()
})

const loadDocuments = latest(
  () => (state.type ? api.documents(state.type, view.showDeleted.checked) : undefined),
  (list, error) => {
    if (error) console.error(error)
    if (list && list.type !== state.type) return
    state.docs = list?.docs ?? []
    state.total = list?.total ?? 0
    drawDocuments()
  },
)

const loadDocument = latest(
  () => (state.id ? api.document(state.id) : undefined),
  (detail, error) => {
    if (detail && detail.document.id !== state.id) return
    state.detail = detail
    if (error) state.documentError = message(error)
    drawDocument()
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
  documents: debounced(() => void loadDocuments()),
  document: debounced(() => void loadDocument()),
  all() {
    reload.overview()
    reload.documents()
    reload.document()
  },
}

// ---- drawing

function drawTypes(): void {
  renderTypes(view.types, state.overview?.types ?? [], state.type, type => go(type))
}

function drawDocuments(): void {
  renderDocuments(view.documents, view.documentsHeading, { type: state.type, docs: state.docs, total: state.total, selected: state.id, fresh: state.fresh }, id => go(state.type, id))
}

function drawDocument(): void {
  if (!state.id) return renderEmptyDocument(view.document, state.type ? "Pick a document." : "Pick a type, then a document.")
  if (!state.detail) return renderEmptyDocument(view.document, state.documentError ?? "Loading…")
  renderDocument(view.document, state.detail, state.overview?.machine.machineId ?? "", actions, state.documentError)
}

function drawNetwork(): void {
  if (state.overview) renderNetwork(view.graph, view.peerTable, state.overview)
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

// ---- live

function setLive(live: LiveState): void {
  view.live.dataset.state = live
  view.live.querySelector(".label")!.textContent = live === "live" ? "live" : live
}

connectLive({
  state: setLive,
  hello: () => reload.all(),
  resync: () => reload.all(),
  change: change => {
    state.fresh.add(change.id)
    setTimeout(() => {
      state.fresh.delete(change.id)
      view.documents.querySelector(`[data-id="${CSS.escape(change.id)}"]`)?.classList.remove("fresh")
    }, 2000)
    reload.overview()
    if (change.type === state.type) reload.documents()
    if (change.id === state.id) reload.document()
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

view.showDeleted.addEventListener("change", () => void loadDocuments())
view.newDocument.addEventListener("click", () =>
  openNewDocument(view.dialog, {
    types: state.overview?.types.map(t => t.type) ?? [],
    schemas: state.overview?.schemas ?? {},
    initialType: state.type,
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
