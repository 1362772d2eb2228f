/**
 * The network as this peer sees it: itself in the middle, every peer it
 * knows around it. An edge's colour is the peer's state (in sync, syncing,
 * disconnected, refused) and its label the types the peer syncs; under each
 * peer, the transport its link uses and when it last synced. A table beside
 * it says the same in words.
 */
import type { Connection, Overview, PeerView, Transport } from "./api.js"
import { fill, h, s } from "./dom.js"
import { ago, shortId, timeAgo, types } from "./format.js"

const WIDTH = 680
const HEIGHT = 380
/** Alone, this machine needs less room. */
const HEIGHT_ALONE = 190
/** Peers sit on an ellipse around this machine, their labels on the outer side. */
const RADIUS = { x: 200, y: 128 }

type State = "in-sync" | "syncing" | "closed" | "refused" | "connecting"

const STATE_LABEL: Record<State, string> = {
  "in-sync": "in sync",
  syncing: "syncing",
  closed: "disconnected",
  refused: "refused",
  connecting: "connecting",
}

const TRANSPORT_LABEL: Record<Transport | "folder", string> = { ws: "WebSocket", tcp: "TCP", folder: "folder" }

interface GraphNode {
  key: string
  transport: Transport | "folder" | undefined
  title: string
  subtitle: string
  state: State
  edgeLabel: string
  lines: string[]
  relay: boolean
  outgoing: boolean
}

function stateOf(peer: PeerView): State {
  return peer.connected ? peer.state : "closed"
}

function nodesOf(overview: Pick<Overview, "peers" | "connections">): GraphNode[] {
  const peers: GraphNode[] = overview.peers.map(peer => ({
    key: peer.machineId,
    transport: peer.transport,
    title: peer.name ?? shortId(peer.machineId),
    subtitle: peer.name ? shortId(peer.machineId) : "",
    state: stateOf(peer),
    edgeLabel: types(peer.wants),
    lines: [
      peer.transport ? `${STATE_LABEL[stateOf(peer)]} · ${TRANSPORT_LABEL[peer.transport]}` : STATE_LABEL[stateOf(peer)],
      peer.lastSyncAt ? `synced ${ago(peer.lastSyncAt)}` : "not synced yet",
      `↑${peer.sent} ↓${peer.received} docs`,
    ],
    relay: peer.relay,
    outgoing: false,
  }))
  // A folder this peer syncs through is a link of its own: no peer is behind it until its files are read.
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
  return [...peers, ...pending, ...folders]
}

export function renderNetwork(graph: HTMLElement, table: HTMLElement, overview: Overview): void {
  const nodes = nodesOf(overview)
  fill(graph, svgOf(nodes, overview.machine), legend())
  fill(table, tableOf(overview.peers, overview.connections))
}

function svgOf(nodes: GraphNode[], machine: Overview["machine"]): SVGSVGElement {
  const count = nodes.length
  const height = count ? HEIGHT : HEIGHT_ALONE
  const center = { x: WIDTH / 2, y: count ? height / 2 : 80 }
  const placed = nodes.map((node, i) => {
    const angle = (count <= 2 ? 0 : -Math.PI / 2) + (2 * Math.PI * i) / Math.max(count, 1)
    return { node, angle, x: center.x + Math.cos(angle) * RADIUS.x, y: center.y + Math.sin(angle) * RADIUS.y }
  })
  return s(
    "svg",
    {
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: "img",
      "aria-label": `network graph: this machine and ${count} peer${count === 1 ? "" : "s"}`,
      class: "network-graph",
    },
    placed.map(({ node, x, y }) =>
      s("line", {
        x1: center.x,
        y1: center.y,
        x2: x,
        y2: y,
        class: `edge state-${node.state}`,
        ...(node.transport ? { "data-transport": node.transport } : {}),
      }),
    ),
    // Labels sit past the middle of each edge, clear of this machine's circle.
    placed.map(({ node, x, y }) =>
      node.edgeLabel ? edgeLabel(node, center.x + (x - center.x) * 0.6, center.y + (y - center.y) * 0.6) : null,
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
    { class: `node peer state-${node.state}`, "data-machine": node.key, ...(node.transport ? { "data-transport": node.transport } : {}) },
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

function tableOf(peers: PeerView[], connections: Connection[]): HTMLElement {
  if (peers.length === 0 && connections.length === 0) return h("p", { class: "empty" }, "No peer has connected since this peer started.")
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
