// Where a function's time comes from: inclusive time of `name` in a V8 CPU
// profile, grouped by its call stack (up to `depth` frames).
//   node test/bench/lib/profile-callers.mjs FILE.cpuprofile NAME [depth]
import { readFileSync } from "node:fs"

const [file, name, depthArg] = process.argv.slice(2)
const depth = Number(depthArg ?? 6)
const profile = JSON.parse(readFileSync(file, "utf8"))
const byId = new Map(profile.nodes.map(n => [n.id, n]))
const parent = new Map()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const frame = n =>
  `${n.callFrame.functionName || "(anonymous)"} ${(n.callFrame.url || "").split("/").slice(-2).join("/")}:${n.callFrame.lineNumber + 1}`
const groups = new Map()
let total = 0
let all = 0
for (let i = 0; i < profile.samples.length; i++) {
  all += profile.timeDeltas[i]
  const chain = []
  let hit = false
  for (let id = profile.samples[i]; id !== undefined; id = parent.get(id)) {
    const node = byId.get(id)
    if (!hit && node.callFrame.functionName === name) hit = true
    if (hit) chain.push(frame(node))
  }
  if (!hit) continue
  const key = chain.slice(0, depth).join("\n      < ")
  groups.set(key, (groups.get(key) ?? 0) + profile.timeDeltas[i])
  total += profile.timeDeltas[i]
}
console.log(
  `${name}: ${(total / 1000).toFixed(0)} ms inclusive of ${(all / 1000).toFixed(0)} ms sampled (${((100 * total) / all).toFixed(1)}%)`,
)
for (const [key, us] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`${(us / 1000).toFixed(0).padStart(8)} ms  ${key}`)
