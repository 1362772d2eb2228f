/**
 * The network as this peer sees it: itself in the middle, every peer it
 * knows around it, and on an outer ring the machines its presence hears of
 * behind them (a phone behind a relay, linked to the relay). An edge's
 * colour is the peer's state (in sync, syncing, disconnected, refused) and
 * its label the types synced over it; under each machine, its presence
 * state, the transport of its link, and when it was last synced or heard.
 * A table beside it says the same in words.
 */
import type { Connection, Overview, PeerView, PresenceEntry, PresenceView } from "./api.js"
import { fill, h, s } from "./dom.js"
import { ago, shortId, timeAgo, types } from "./format.js"

const WIDTH = 680
const HEIGHT = 380
/** Alone, this machine needs less room. */
const HEIGHT_ALONE = 190
/** Peers sit on an ellipse around this machine, their labels on the outer side. */
const RADIUS = { x: 200, y: 128 }

type State = "in-sync" | "syncing" | "closed" | "refused" | "connecting" | "heard"

const STATE_LABEL: Record<State, string> = {
  "in-sync": "in sync",
  syncing: "syncing",
  closed: "disconnected",
  refused: "refused",
  connecting: "connecting",
  heard: "heard of",
}

const TRANSPORT_LABEL: Record<string, string> = { ws: "WebSocket", tcp: "TCP", folder: "folder" }
/** Machines heard of behind the direct peers sit on a wider ellipse, and the direct peers closer in to make room. */
const INNER_RADIUS = { x: 160, y: 110 }
const OUTER_RADIUS = { x: 300, y: 215 }
const HEIGHT_WIDE = 520

interface GraphNode {
  key: string
  transport: string | undefined
  title: string
  subtitle: string
  state: State
  edgeLabel: string
  lines: string[]
  relay: boolean
  outgoing: boolean
  /** For a machine heard of through presence: the machine it is drawn linked to. */
  anchor?: string
}

function stateOf(peer: PeerView): State {
  return peer.connected ? peer.state : "closed"
}

/** A presence state in a line: its status first, then its other fields. */
function stateLine(entry: PresenceEntry | undefined): string[] {
  if (!entry) return []
  const { status, ...rest } = entry.state
  const fields = Object.entries(rest).map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
  const parts = [...(status === undefined ? [] : [String(status)]), ...fields]
  return parts.length ? [clip(parts.join(" · "), 30)] : []
}

function nodesOf(overview: Pick<Overview, "peers" | "connections">, presence: PresenceView | undefined): GraphNode[] {
  const heard = new Map((presence?.machines ?? []).map(entry => [entry.machineId, entry]))
  const peers: GraphNode[] = overview.peers.map(peer => ({
    key: peer.machineId,
    transport: peer.transport,
    title: peer.name ?? shortId(peer.machineId),
    subtitle: peer.name ? shortId(peer.machineId) : "",
    state: stateOf(peer),
    edgeLabel: types(peer.wants),
    lines: [
      peer.transport ? `${STATE_LABEL[stateOf(peer)]} · ${TRANSPORT_LABEL[peer.transport]}` : STATE_LABEL[stateOf(peer)],
      ...stateLine(heard.get(peer.machineId)),
      peer.lastSyncAt ? `synced ${ago(peer.lastSyncAt)}` : "not synced yet",
      `↑${peer.sent} ↓${peer.received} docs`,
    ],
    relay: peer.relay,
    outgoing: false,
  }))
  const folders: GraphNode[] = overview.connections
    .filter(c => c.transport === "folder")
    .map(folder => ({
      key: folder.url,
      transport: "folder",
      title:
        folder.url
          .replace(/^file:\/\//, "")
          .split("/")
          .filter(Boolean)
          .at(-1) ?? folder.url,
      subtitle: "folder",
      state: folder.status === "failed" ? "refused" : "in-sync",
      edgeLabel: "",
      lines: [
        `${folder.status} · folder`,
        folder.lastSyncAt ? `synced ${ago(folder.lastSyncAt)}` : "not synced yet",
        ...(folder.refusal ? [clip(folder.refusal, 24)] : []),
      ],
      relay: false,
      outgoing: true,
    }))
  // A connection that is up is one of the peers above; one that is not has no peer yet: show where it points.
  const pending: GraphNode[] = overview.connections
    .filter(c => c.status !== "connected" && c.transport !== "folder")
    .map(connection => ({
      key: connection.url,
      transport: connection.transport,
      title: hostOf(connection.url),
      subtitle: "outgoing",
      state: connection.status === "refused" ? "refused" : "connecting",
      edgeLabel: "",
      lines: [
        `${connection.status} · ${TRANSPORT_LABEL[connection.transport]}`,
        ...(connection.refusal ? [clip(connection.refusal, 24)] : []),
      ],
      relay: false,
      outgoing: true,
    }))
  return [...peers, ...pending, ...folders, ...behind(overview, presence)]
}

/**
 * The machines presence hears of that are not connected here, each drawn
 * linked to a machine nearer this one (the relay a phone is connected to):
 * taken outward from the direct peers, one ring at a time.
 */
function behind(overview: Pick<Overview, "peers">, presence: PresenceView | undefined): GraphNode[] {
  if (!presence) return []
  const direct = new Set(overview.peers.filter(p => p.connected).map(p => p.machineId))
  const placed = new Set([presence.machineId, ...direct])
  const entries = presence.machines.filter(entry => !placed.has(entry.machineId))
  const linkBetween = (a: PresenceEntry | undefined, b: string) => a?.links.find(link => link.machineId === b)
  const byId = new Map(presence.machines.map(entry => [entry.machineId, entry]))
  const nodes: GraphNode[] = []
  let frontier = [...direct]
  while (entries.length && frontier.length) {
    const next: string[] = []
    for (const entry of [...entries]) {
      const anchor = frontier.find(id => linkBetween(entry, id) || linkBetween(byId.get(id), entry.machineId)) ?? undefined
      if (anchor === undefined) continue
      const link = linkBetween(byId.get(anchor), entry.machineId) ?? linkBetween(entry, anchor)
      nodes.push({
        key: entry.machineId,
        transport: link?.transport,
        title: entry.name ?? shortId(entry.machineId),
        subtitle: entry.name ? shortId(entry.machineId) : "",
        state: "heard",
        edgeLabel: link?.types.length ? types(link.types.includes("*") ? "*" : link.types) : "",
        lines: [
          link?.transport ? `linked · ${TRANSPORT_LABEL[link.transport] ?? link.transport}` : "linked",
          ...stateLine(entry),
          `heard ${ago(entry.heardAt)}`,
        ],
        relay: false,
        outgoing: false,
        anchor,
      })
      entries.splice(entries.indexOf(entry), 1)
      next.push(entry.machineId)
    }
    frontier = next
  }
  return nodes
}

export function renderNetwork(graph: HTMLElement, table: HTMLElement, overview: Overview, presence?: PresenceView): void {
  const nodes = nodesOf(overview, presence)
  fill(graph, svgOf(nodes, overview.machine), legend())
  fill(
    table,
    tableOf(
      overview.peers,
      overview.connections,
      nodes.filter(node => node.anchor !== undefined),
    ),
  )
}

interface Placed {
  node: GraphNode
  angle: number
  x: number
  y: number
  /** Where its edge starts: this machine, or the machine it is linked to. */
  from: { x: number; y: number }
}

function svgOf(nodes: GraphNode[], machine: Overview["machine"]): SVGSVGElement {
  const inner = nodes.filter(node => node.anchor === undefined)
  const outer = nodes.filter(node => node.anchor !== undefined)
  const wide = outer.length > 0
  const count = nodes.length
  const height = !count ? HEIGHT_ALONE : wide ? HEIGHT_WIDE : HEIGHT
  const radius = wide ? INNER_RADIUS : RADIUS
  const center = { x: WIDTH / 2, y: count ? height / 2 : 80 }
  const placed: Placed[] = inner.map((node, i) => {
    // One or two peers sit beside this machine, unless machines behind them need the room outward: then from the top.
    const start = inner.length <= 2 && !wide ? 0 : -Math.PI / 2
    const angle = start + (2 * Math.PI * i) / Math.max(inner.length, 1)
    return { node, angle, x: center.x + Math.cos(angle) * radius.x, y: center.y + Math.sin(angle) * radius.y, from: center }
  })
  // Each machine heard of sits outward from the one it is linked to, its siblings fanned out beside it.
  for (const node of outer) {
    const anchor = placed.find(p => p.node.key === node.anchor)
    if (!anchor) continue
    const siblings = outer.filter(other => other.anchor === node.anchor)
    const spread = (siblings.indexOf(node) - (siblings.length - 1) / 2) * 0.45
    const angle = anchor.angle + spread
    const out = anchor.from === center ? OUTER_RADIUS : { x: OUTER_RADIUS.x * 1.2, y: OUTER_RADIUS.y * 1.2 }
    placed.push({
      node,
      angle,
      x: Math.min(WIDTH - 40, Math.max(40, center.x + Math.cos(angle) * out.x)),
      y: Math.min(height - 30, Math.max(30, center.y + Math.sin(angle) * out.y)),
      from: { x: anchor.x, y: anchor.y },
    })
  }
  return s(
    "svg",
    {
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "img",
      "aria-label": `network graph: this machine, ${inner.length} peer${inner.length === 1 ? "" : "s"}${wide ? ` and ${outer.length} machine${outer.length === 1 ? "" : "s"} behind them` : ""}`,
      class: "network-graph",
    },
    placed.map(({ node, x, y, from }) =>
      s("line", {
        x1: from.x,
        y1: from.y,
        x2: x,
        y2: y,
        class: `edge state-${node.state}`,
        "data-to": node.key,
        ...(node.anchor ? { "data-from": node.anchor } : {}),
        ...(node.transport ? { "data-transport": node.transport } : {}),
      }),
    ),
    // Labels sit past the middle of each edge, clear of the circles.
    placed.map(({ node, x, y, from }) =>
      node.edgeLabel ? edgeLabel(node, from.x + (x - from.x) * 0.6, from.y + (y - from.y) * 0.6) : null,
    ),
    s(
      "g",
      { class: "node self" },
      s("circle", { cx: center.x, cy: center.y, r: 50 }),
      s("text", { x: center.x, y: center.y - 6, class: "self-title" }, "this machine"),
      s("text", { x: center.x, y: center.y + 12, class: "self-name" }, machine.name ?? shortId(machine.machineId)),
    ),
    placed.map(({ node, angle, x, y }) => peerNode(node, Math.cos(angle) >= -0.01, x, y)),
    count === 0
      ? s(
          "text",
          { x: center.x, y: center.y + 78, class: "graph-empty" },
          `No peers yet: they appear here when they connect to ws://${location.host}`,
        )
      : null,
  )
}

function edgeLabel(node: GraphNode, x: number, y: number): SVGGElement {
  const width = Math.min(220, node.edgeLabel.length * 6.4 + 14)
  return s(
    "g",
    { class: `edge-label state-${node.state}` },
    s("rect", { x: x - width / 2, y: y - 10, width, height: 20, rx: 10 }),
    s("text", { x, y: y + 4 }, clip(node.edgeLabel, 32)),
  )
}

function peerNode(node: GraphNode, right: boolean, x: number, y: number): SVGGElement {
  const lines = [clip(node.title, 18), ...(node.subtitle ? [node.subtitle] : []), ...node.lines]
  const firstY = y - ((lines.length - 1) * 14) / 2 + 4
  const textX = right ? x + 34 : x - 34
  return s(
    "g",
    {
      class: `node peer state-${node.state}${node.anchor ? " behind" : ""}`,
      "data-machine": node.key,
      ...(node.transport ? { "data-transport": node.transport } : {}),
    },
    s("title", {}, `${node.title}: ${STATE_LABEL[node.state]}`),
    s("circle", { cx: x, cy: y, r: 26 }),
    node.outgoing ? arrowIcon(x, y) : machineIcon(x, y),
    node.relay ? s("text", { x, y: y + 40, class: "relay" }, "relay") : null,
    lines.map((line, i) =>
      s(
        "text",
        { x: textX, y: firstY + i * 14, class: i === 0 ? "peer-title" : "peer-line", "text-anchor": right ? "start" : "end" },
        line,
      ),
    ),
  )
}

/** A small screen-and-stand: a machine. */
function machineIcon(x: number, y: number): SVGGElement {
  return s(
    "g",
    { class: "icon" },
    s("rect", { x: x - 11, y: y - 10, width: 22, height: 15, rx: 2 }),
    s("path", { d: `M${x - 6} ${y + 10}h12M${x} ${y + 5}v5` }),
  )
}

/** An arrow out: a server this peer is trying to reach. */
function arrowIcon(x: number, y: number): SVGGElement {
  return s("g", { class: "icon" }, s("path", { d: `M${x - 9} ${y + 9}L${x + 8} ${y - 8}M${x - 3} ${y - 8}h11v11` }))
}

function legend(): HTMLElement {
  const states: State[] = ["in-sync", "syncing", "closed", "refused"]
  return h(
    "ul",
    { class: "legend" },
    states.map(state => h("li", {}, h("span", { class: `swatch state-${state}` }), STATE_LABEL[state])),
  )
}

function tableOf(peers: PeerView[], connections: Connection[], behind: GraphNode[]): HTMLElement {
  if (peers.length === 0 && connections.length === 0 && behind.length === 0)
    return h("p", { class: "empty" }, "No peer has connected since this peer started.")
  return h(
    "table",
    {},
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", {}, "Machine"),
        h("th", {}, "State"),
        h("th", {}, "Link"),
        h("th", {}, "Syncs"),
        h("th", {}, "Last synced"),
        h("th", { class: "num" }, "Docs ↑ / ↓"),
      ),
    ),
    h(
      "tbody",
      {},
      peers.map(peer =>
        h(
          "tr",
          { "data-machine": peer.machineId },
          h(
            "td",
            {},
            peer.name ? [h("strong", {}, peer.name), " "] : null,
            h("code", { title: peer.machineId }, shortId(peer.machineId, 12)),
            peer.relay ? h("span", { class: "badge" }, "relay") : null,
          ),
          h("td", {}, h("span", { class: `pill state-${stateOf(peer)}` }, peer.connected ? STATE_LABEL[peer.state] : "disconnected")),
          h("td", { class: "transport" }, peer.transport ? TRANSPORT_LABEL[peer.transport] : h("span", { class: "muted" }, "—")),
          h("td", {}, types(peer.wants)),
          h("td", {}, peer.lastSyncAt ? timeAgo(peer.lastSyncAt) : h("span", { class: "muted" }, "never")),
          h("td", { class: "num" }, `${peer.sent} / ${peer.received}`),
        ),
      ),
      behind.map(node =>
        h(
          "tr",
          { "data-machine": node.key, class: "behind" },
          h(
            "td",
            {},
            node.subtitle ? [h("strong", {}, node.title), " "] : null,
            h("code", { title: node.key }, node.subtitle || node.title),
          ),
          h(
            "td",
            {},
            h("span", { class: "pill state-heard" }, node.lines[1] && !node.lines[1].startsWith("heard") ? node.lines[1] : "heard of"),
          ),
          h(
            "td",
            { class: "transport" },
            `via ${nameOf(node.anchor!, peers)}`,
            node.transport ? ` · ${TRANSPORT_LABEL[node.transport] ?? node.transport}` : "",
          ),
          h("td", {}, node.edgeLabel || h("span", { class: "muted" }, "—")),
          h("td", {}, node.lines.at(-1)),
          h("td", { class: "num muted" }, "—"),
        ),
      ),
      connections.map(connection =>
        h(
          "tr",
          { class: "connection" },
          h("td", {}, "→ ", h("code", {}, connection.url)),
          h(
            "td",
            {},
            h(
              "span",
              {
                class: `pill state-${connection.status === "refused" ? "refused" : connection.status === "connected" ? "in-sync" : "connecting"}`,
              },
              connection.status,
            ),
          ),
          h("td", { class: "transport" }, TRANSPORT_LABEL[connection.transport]),
          h("td", { colspan: 3, class: "muted" }, connection.refusal ?? "outgoing connection"),
        ),
      ),
    ),
  )
}

function nameOf(machineId: string, peers: PeerView[]): string {
  const peer = peers.find(p => p.machineId === machineId)
  return peer?.name ?? shortId(machineId)
}

function hostOf(url: string): string {
  try {
    return new URL(url).host
  } catch {
    return url
  }
}

function clip(text: string, length: number): string {
  return text.length > length ? `${text.slice(0, length - 1)}…` : text
}
