#!/usr/bin/env node
// One client of the relay benchmark (relays.mjs) in its own process: a
// NodePeer connected to one relay process, editing documents of its own and
// timing the changes of the other clients as they arrive.
//
// Each change writes `meta[n] = <the writer's clock, ms>` into one of the
// writer's documents, so a receiver that sees several changes at once still
// times each of them (a register would keep only the last). Every process
// runs on this machine, so one clock serves all.
import { NodePeer } from "@cairn/node"
import { serveCommands } from "../fixtures/commandLoop.mjs"
import { types } from "../fixtures/types.mjs"

const args = Object.fromEntries(process.argv.slice(2).map(arg => arg.replace(/^--/, "").split("=")))
const me = args.name
const peer = await NodePeer.open({ dir: args.dir, types, localSocket: false, log: () => {} })

const mine = []
/** For each document of another client: the keys of `meta` already timed. */
const seen = new Map()
let samples = []
let received = 0

peer.db.on("change", event => {
  if (event.origin !== "remote" || event.type !== "task") return
  const now = Date.now()
  void peer.db.get(event.id).then(doc => {
    if (!doc || doc.data.title.startsWith(`${me}:`)) return
    let keys = seen.get(doc.id)
    if (!keys) seen.set(doc.id, (keys = new Set()))
    for (const [key, at] of Object.entries(doc.data.meta)) {
      if (keys.has(key)) continue
      keys.add(key)
      received++
      samples.push(now - Number(at))
    }
  })
})

let stopAt = 0
let written = 0
let counter = 0

/** Change own documents until `stopAt`: `rate` changes a second (open loop), or as fast as `inFlight` allow when rate is 0. */
async function edit(rate, inFlight) {
  const one = async () => {
    const id = mine[counter % mine.length]
    const n = String(counter++)
    await peer.db.change("task", id, draft => {
      draft.meta[n] = String(Date.now())
    })
    written++
  }
  if (rate > 0) {
    const gap = 1000 / rate
    const started = Date.now()
    const running = new Set()
    for (let i = 0; Date.now() < stopAt; i++) {
      const due = started + i * gap
      if (due > Date.now()) await new Promise(resolve => setTimeout(resolve, due - Date.now()))
      const change = one().finally(() => running.delete(change))
      running.add(change)
    }
    await Promise.all(running)
  } else {
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (Date.now() < stopAt) await one()
      }),
    )
  }
}

serveCommands({
  commands: {
    connect: async ({ url }) => {
      peer.connect(url)
      await peer.whenSynced(60_000)
      return true
    },
    create: async ({ count }) => {
      await peer.db.transaction(tx => {
        for (let i = 0; i < count; i++) mine.push(tx.create("task", { title: `${me}:${i}` }))
      })
      return mine
    },
    count: () => peer.db.catalog.idsOfType("task").size,
    /** Edit for `seconds`; resolves when the last change is on this client's disk. */
    run: async ({ seconds, rate = 0, inFlight = 4 }) => {
      samples = []
      received = 0
      written = 0
      stopAt = Date.now() + seconds * 1000
      await edit(rate, inFlight)
      return { written }
    },
    /** Latencies (ms) of other clients' changes received since `run` began, and how many. */
    results: () => ({ received, samples }),
    cpu: () => {
      const { user, system } = process.cpuUsage()
      return (user + system) / 1000
    },
  },
  onClose: () => peer.close(),
})
