// The page the browser end-to-end tests drive: a BrowserPeer opened from
// the query string (?name=&url=&wants=), a small React view of its tasks and
// status, and `window.app` for the test to call.
import { createElement as h, useState } from "react"
import { createRoot } from "react-dom/client"
import { BrowserPeer } from "@cairn/web"
import { CairnProvider, useDocument, usePeerStatus, useQuery } from "@cairn/web/react"
import { Task, types } from "../../fixtures/types.mjs"

declare global {
  interface Window {
    app: Record<string, (...args: any[]) => unknown>
    appReady: boolean
    appError: string
  }
}

function TaskList() {
  const tasks = useQuery(Task, { orderBy: "title" })
  if (!tasks) return h("li", { id: "loading" }, "loading")
  return tasks.map(task => h("li", { key: task.id, "data-id": task.id }, task.data.title))
}

let select: (id: string | null) => void = () => {}

/** One task by id (useDocument): "loading", "none", or its title. */
function Selected() {
  const [id, setId] = useState<string | null>(null)
  select = setId
  const task = useDocument(Task, id)
  return task === undefined ? "loading" : task === null ? "none" : task.data.title
}

function Status() {
  const status = usePeerStatus()
  return `${status.role} ${status.connection}${status.synced ? " synced" : ""}`
}

async function start() {
  const params = new URLSearchParams(location.search)
  const wants = params.get("wants")
  const peer = await BrowserPeer.open({
    name: params.get("name") ?? "cairn-test",
    ...(params.get("url") ? { url: params.get("url")! } : {}),
    types,
    ...(wants ? { wants: wants === "*" ? "*" : wants.split(",") } : {}),
    backoff: { initialMs: 100, maxMs: 500 },
    log: message => console.log(`[cairn] ${message}`),
  })
  createRoot(document.getElementById("tasks")!).render(h(CairnProvider, { peer }, h(TaskList)))
  createRoot(document.getElementById("status")!).render(h(CairnProvider, { peer }, h(Status)))
  createRoot(document.getElementById("selected")!).render(h(CairnProvider, { peer }, h(Selected)))
  window.app = {
    status: () => peer.status,
    select: (id: string | null) => select(id),
    machineId: () => peer.machine.machineId,
    create: async (type: string, data: Record<string, unknown>) => (await peer.db.create(type, data)).id,
    setTitle: async (id: string, title: string) => (await peer.db.change(Task, id, draft => void (draft.title = title))).data,
    get: async (id: string) =>
      peer.db.get(id).then(
        doc => doc,
        () => null,
      ),
    catalog: () => [...peer.db.catalog.entries()].map(({ id, type, createdBy }) => ({ id, type, createdBy })),
    whenSynced: (timeoutMs = 15_000) => peer.whenSynced(timeoutMs),
    whenSaved: () => peer.whenSaved(),
    close: () => peer.close(),
  }
  window.appReady = true
}

start().catch(error => {
  window.appError = String(error?.stack ?? error)
  console.error(error)
})
