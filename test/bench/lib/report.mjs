// Rows of results: formatting for the terminal, the JSON file, and the
// generated parts of BENCHMARKS.md.
import { readFile, writeFile } from "node:fs/promises"
import { summary } from "./stats.mjs"

/**
 * One line of the results table. `cairn` and `plain` are the samples (one per
 * repetition); `check` says how the target was judged, when there is one.
 * `versus` names what the second column holds when it is not plain
 * automerge-repo ("PouchDB"): such rows go in a table of their own.
 */
export function row({ id, what, unit, cairn, plain, target = "", check = null, note = "", timedOut = {}, versus }) {
  const c = summary(cairn ?? [])
  const p = summary(plain ?? [])
  return {
    id,
    what,
    unit,
    cairn: c ? { ...c, samples: cairn } : null,
    plain: p ? { ...p, samples: plain } : null,
    ratio: c && p && p.median > 0 ? c.median / p.median : null,
    target,
    measured: check?.measured ?? "",
    met: check ? check.met : null,
    note,
    cairnTimedOut: !!timedOut.cairn,
    plainTimedOut: !!timedOut.plain,
    ...(versus ? { versus } : {}),
  }
}

/** A check of a ratio against a limit: `value` ≤ `limit` (or < with strict). */
export function atMost(value, limit, label, { strict = false } = {}) {
  if (value === null || !Number.isFinite(value)) return { measured: "n/a", met: false }
  return { measured: label(value), met: strict ? value < limit : value <= limit }
}

/** A check that `value` ≥ `limit`. */
export function atLeast(value, limit, label) {
  if (value === null || !Number.isFinite(value)) return { measured: "n/a", met: false }
  return { measured: label(value), met: value >= limit }
}

const num = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 })

export function formatValue(value, unit) {
  if (value === null || value === undefined || !Number.isFinite(value)) return "–"
  switch (unit) {
    case "ms":
      if (value >= 100_000) return `${num.format(value / 1000)} s`
      if (value >= 10_000) return `${(value / 1000).toFixed(1)} s`
      if (value >= 1000) return `${(value / 1000).toFixed(2)} s`
      if (value >= 10) return `${value.toFixed(0)} ms`
      return `${value.toFixed(1)} ms`
    case "bytes":
      if (value >= 10 * 1024 * 1024) return `${(value / 1024 / 1024).toFixed(0)} MB`
      if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MB`
      if (value >= 10 * 1024) return `${(value / 1024).toFixed(0)} KB`
      if (value >= 1024) return `${(value / 1024).toFixed(1)} KB`
      return `${num.format(value)} B`
    default:
      return `${num.format(value)} ${unit}`
  }
}

function formatRange(stats, unit, timedOut) {
  if (!stats) return "–"
  const mark = timedOut ? " (did not finish: lower bound)" : ""
  if (stats.n === 1) return `${formatValue(stats.median, unit)} (n=1)${mark}`
  if (formatValue(stats.min, unit) === formatValue(stats.max, unit))
    return `${formatValue(stats.median, unit)} (all ${stats.n} alike)${mark}`
  return `${formatValue(stats.median, unit)} (${formatValue(stats.min, unit)}–${formatValue(stats.max, unit)})${mark}`
}

/** A ratio as "1.42x"; a small one as "1/131" (Cairn took a 131st of plain's time), which "0.01x" would hide. */
export const ratioText = r =>
  r === null || !Number.isFinite(r)
    ? "–"
    : r >= 100
      ? `${r.toFixed(0)}x`
      : r >= 10
        ? `${r.toFixed(1)}x`
        : r >= 0.1 || r === 0
          ? `${r.toFixed(2)}x`
          : `1/${Math.round(1 / r).toLocaleString("en-US")}`
const metText = met => (met === null ? "" : met ? "yes" : "**no**")

export function tableCells(r) {
  return [
    r.id,
    r.what,
    formatRange(r.cairn, r.unit, r.cairnTimedOut),
    formatRange(r.plain, r.unit, r.plainTimedOut),
    // Against a plain figure that is a lower bound (it did not finish), the ratio is an upper bound; Cairn's, a lower bound.
    r.ratio === null
      ? "–"
      : `${r.plainTimedOut && !r.cairnTimedOut ? "< " : r.cairnTimedOut && !r.plainTimedOut ? "> " : ""}${ratioText(r.ratio)}`,
    r.target,
    r.measured,
    metText(r.met),
  ]
}

const header = versus =>
  versus
    ? ["", "workload", "Cairn: median (min–max)", `${versus}: median (min–max)`, `Cairn ÷ ${versus}`, "target", "measured", "met?"]
    : ["", "workload", "Cairn: median (min–max)", "automerge-repo: median (min–max)", "Cairn ÷ plain", "target", "measured", "met?"]

/** The rows by what their second column holds: plain automerge-repo first, then each other side. */
function byVersus(rows) {
  const groups = new Map()
  for (const r of rows) groups.set(r.versus ?? "", [...(groups.get(r.versus ?? "") ?? []), r])
  return [...groups].sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)))
}

/** The tables as aligned plain text, for the terminal. */
export function textTable(rows) {
  return byVersus(rows)
    .map(([versus, group]) => {
      const head = header(versus)
      const lines = [head, ...group.map(r => tableCells(r).map(cell => cell.replaceAll("**", "")))]
      const widths = head.map((_, i) => Math.max(...lines.map(l => l[i].length)))
      return lines
        .map(l =>
          l
            .map((cell, i) => cell.padEnd(widths[i]))
            .join("  ")
            .trimEnd(),
        )
        .join("\n")
    })
    .join("\n\n")
}

export function markdownTable(rows) {
  const escapeCell = cell => cell.replaceAll("|", "\\|")
  return byVersus(rows)
    .map(([versus, group]) => {
      const head = header(versus)
      return [
        `| ${head.join(" | ")} |`,
        `|${head.map(() => "---").join("|")}|`,
        ...group.map(r => `| ${tableCells(r).map(escapeCell).join(" | ")} |`),
      ].join("\n")
    })
    .join("\n\n")
}

const RESULTS_START = "<!-- results:start: generated by test/bench/run.js from its results; edits here are overwritten -->"
const RESULTS_END = "<!-- results:end -->"
const ANALYSIS_START = "<!-- analysis:start: hand-written; regeneration keeps everything between these markers -->"
const ANALYSIS_END = "<!-- analysis:end -->"

const HOW_TO_RUN = `
## How to run

\`\`\`sh
npm run bench                                   # build, then every workload: 3 repetitions each
npm run bench -- --only W2,W3 --reps 5          # some workloads; their figures replace those in this file
npm run bench -- --only P2,P3,P9 --reps 3       # Cairn against PouchDB (not in the smoke test)
npm run bench -- --only P1,P2 --large --reps 1  # and at 100,000 documents (minutes each)
npm run bench -- --plain-reps 2                 # plain automerge-repo twice at 10,000 documents (default once: minutes each)
npm run bench -- --profile                      # every peer process writes a V8 CPU profile to test/bench/results/profiles/
npm run bench -- --only W2 --docs 1000 --reps 1 --profile   # one size only (not written here), e.g. to profile it
node test/bench/profile-summary.mjs FILE.cpuprofile [--inclusive] [--match packages/core]
node test/bench/run.js --quick --no-write       # the smoke test: W1–W9 at a small N, once (what CI runs)
node test/bench/run.js --quick --no-write --only P1,P2,P3,P9   # the P workloads at a small N
\`\`\`

\`npm run bench\` builds the packages first (the peers import \`@cairn/core\` and
\`@cairn/node\` from their \`dist\` folders); run \`node test/bench/run.js\`
directly only after \`npx turbo run build\`. A full run takes 30 to 60 minutes
on 2 cores, most of it plain automerge-repo at 10,000 documents. The raw
samples go to \`test/bench/results/latest.json\`. CI runs the smoke test as
\`test/bench.test.ts\` and asserts no timing. Run on an otherwise idle
machine: the 1-minute load average is recorded with every workload below (the
benchmark alone keeps it at about 2 to 3 on 2 cores; more means other work
was running).
`

const minutes = seconds => (seconds >= 90 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds)} s`)

/** What each group of workloads (by the letter of its id) is measured against. */
const GROUPS = {
  W: "W1–W9, against plain automerge-repo",
  P: "P1, P2, P3, P9, against PouchDB",
  T: "T workloads, typed text editing against raw Automerge",
}
const groupOf = id => id[0]
const groupTitle = letter => GROUPS[letter] ?? `${letter} workloads`
const byId = (a, b) => a.localeCompare(b, "en", { numeric: true })

function machineLine(results) {
  const m = results.machine
  return `**Machine:** ${m.cores} cores (${m.cpu}) · ${Math.round(m.memoryGB)} GB RAM · Node ${m.node} · ${m.platform}.`
}

/** When a workload ran, how often, on which commit, and how loaded the machine was. */
function runsLine(w, results) {
  const reps = w.reps ?? results.options.reps
  const plainReps = w.plainReps ?? results.options.plainReps
  const date = (w.date ?? results.date).replace("T", " ").slice(0, 16)
  const load = w.load ? ` · load average ${w.load.start.toFixed(1)} → ${w.load.end.toFixed(1)}` : ""
  const plain =
    plainReps < reps && ["W2", "W3", "W4", "W8", "W9"].includes(w.id) ? ` (plain automerge-repo ${plainReps} at 10,000 documents)` : ""
  const commit = w.commit ? ` · commit ${w.commit}${w.uncommitted ? ` with ${w.uncommitted} uncommitted files in packages/` : ""}` : ""
  return `- ${w.id}: ${date} UTC · ${reps} repetition${reps === 1 ? "" : "s"}${plain}${load} · took ${minutes(w.seconds)}${commit}`
}

/**
 * The lines of the previous file's generated section, by workload: its run lines and table rows, and per group
 * the machine line and table header they stood under. A workload this run did not measure keeps them, so a run
 * of some workloads (`--only`) replaces only their figures; the results file is not in git, this file is.
 */
function previousLines(previous) {
  const kept = { runs: new Map(), rows: new Map(), machine: new Map(), header: new Map() }
  const start = previous?.indexOf(RESULTS_START) ?? -1
  const end = previous?.indexOf(RESULTS_END) ?? -1
  if (start < 0 || end < start) return kept
  let machine
  let header
  const add = (map, id, line) => map.set(id, [...(map.get(id) ?? []), line])
  for (const line of previous.slice(start, end).split("\n")) {
    const run = /^- ([A-Z]\d+): /.exec(line)
    const tableRow = /^\| ([A-Z]\d+) \|/.exec(line)
    if (line.includes("**Machine:**")) machine = line
    else if (line.startsWith("|  | workload |")) header = line
    else if (run) {
      add(kept.runs, run[1], line)
      if (machine && !kept.machine.has(groupOf(run[1])))
        kept.machine.set(groupOf(run[1]), machine.replace(/^.*\*\*Machine:\*\*/, "**Machine:**"))
    } else if (tableRow) {
      add(kept.rows, tableRow[1], line)
      if (header && !kept.header.has(groupOf(tableRow[1]))) kept.header.set(groupOf(tableRow[1]), header)
    }
  }
  return kept
}

/** The generated section: per group, the machine, the runs and the table, this run's workloads new and the others kept. */
function resultsSection(results, previous) {
  const kept = previousLines(previous)
  const measured = new Map(results.workloads.map(w => [w.id, w]))
  const ids = [...new Set([...measured.keys(), ...kept.runs.keys(), ...kept.rows.keys()])].sort(byId)
  const letters = [...new Set(ids.map(groupOf))].sort((a, b) => Object.keys(GROUPS).indexOf(a) - Object.keys(GROUPS).indexOf(b))
  return letters.flatMap(letter => {
    const group = ids.filter(id => groupOf(id) === letter)
    const fresh = group.filter(id => measured.has(id))
    const newRows = fresh.flatMap(id => measured.get(id).rows)
    const table = newRows.length > 0 ? markdownTable(newRows).split("\n") : []
    const head = table.length > 0 ? table.slice(0, 2) : kept.header.has(letter) ? [kept.header.get(letter), `|${"---|".repeat(8)}`] : []
    const newRowLines = new Map(fresh.map(id => [id, table.slice(2).filter(line => line.startsWith(`| ${id} |`))]))
    return [
      `**${groupTitle(letter)}.** ${fresh.length > 0 ? machineLine(results) : (kept.machine.get(letter) ?? "")}`,
      "",
      "Runs (Cairn and the other side alternating within each):",
      "",
      ...group.flatMap(id => (measured.has(id) ? [runsLine(measured.get(id), results)] : (kept.runs.get(id) ?? []))),
      "",
      ...head,
      ...group.flatMap(id => newRowLines.get(id) ?? kept.rows.get(id) ?? []),
      "",
    ]
  })
}

/** The whole BENCHMARKS.md: generated header and tables, the hand-written analysis kept from `previous`, and the method. */
export function benchmarksMarkdown(results, previous, method) {
  let analysis = "\n_No analysis yet._\n"
  const start = previous?.indexOf(ANALYSIS_START) ?? -1
  const end = previous?.indexOf(ANALYSIS_END) ?? -1
  if (start >= 0 && end > start) analysis = previous.slice(start + ANALYSIS_START.length, end)
  const errors = results.workloads.filter(w => w.error).map(w => `- ${w.id} failed: \`${w.error.split("\n")[0]}\``)
  return [
    "# Benchmarks",
    "",
    "Cairn side by side with plain automerge-repo doing the same work: the same",
    "documents, the same loopback WebSocket transport, in the same run, alternating",
    "(W1–W9); with PouchDB syncing over HTTP (P1, P2, P3, P9, the second table);",
    "and typed text editing against raw Automerge (T). The figures and the list of",
    "runs below are generated by `test/bench/run.js` (a run of some workloads",
    "replaces their lines and keeps the others'); the notes after them are written by hand.",
    "",
    HOW_TO_RUN.trim(),
    "",
    "## Latest figures",
    "",
    RESULTS_START,
    "",
    ...resultsSection(results, previous),
    ...(errors.length ? ["Failed workloads:", "", ...errors, ""] : []),
    "Each cell is the median of the repetitions (min–max; n=1 where there was one). " +
      "“Cairn ÷ plain” (“Cairn ÷ PouchDB”) is the ratio of the medians: below 1 Cairn is faster or smaller. " +
      "“met?” is judged on Cairn's median; a row without a target is reported for comparison.",
    "",
    RESULTS_END,
    "",
    ANALYSIS_START,
    analysis.replace(/^\n*/, "\n").replace(/\n*$/, "\n"),
    ANALYSIS_END,
    "",
    method.trim(),
    "",
  ].join("\n")
}

export async function writeBenchmarks(path, results, method) {
  const previous = await readFile(path, "utf8").catch(() => undefined)
  await writeFile(path, benchmarksMarkdown(results, previous, method))
}
