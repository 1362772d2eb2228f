/**
 * The mismatch view, below the network: each peer whose definition of a
 * type it syncs cannot live beside this peer's (what its replicator found at
 * connect, `peer.peers()[i].schemas`), with both versions, the verdict and
 * the fields that differ. Syncing goes on; documents this peer cannot read
 * are quarantined, and this says why before they are.
 */
import type { PeerView } from "./api.js"
import { fill, h } from "./dom.js"
import { shortId } from "./format.js"

export function renderMismatches(box: HTMLElement, peers: readonly PeerView[]): void {
  const differing = peers.filter(peer => peer.schemas?.length)
  box.hidden = differing.length === 0
  if (differing.length === 0) return fill(box)
  fill(
    box,
    h("h3", {}, "Schemas that differ"),
    h(
      "ul",
      { class: "mismatch-list" },
      differing.flatMap(peer =>
        (peer.schemas ?? []).map(mismatch =>
          h(
            "li",
            {
              class: `mismatch verdict-${mismatch.verdict.replaceAll(" ", "-")}`,
              "data-machine": peer.machineId,
              "data-type": mismatch.type,
            },
            h("strong", {}, peer.name ?? shortId(peer.machineId, 12)),
            ` defines ${mismatch.type} as version ${mismatch.remoteVersion}, this peer as version ${mismatch.localVersion}: `,
            h("span", { class: "pill verdict" }, mismatch.verdict),
            peer.connected ? null : h("span", { class: "muted" }, " (when last connected)"),
            h(
              "ul",
              { class: "mismatch-fields" },
              mismatch.fields.map(field => h("li", {}, h("code", {}, field.path), ` ${field.change}: ${field.reason}`)),
              mismatch.problems.map(problem => h("li", {}, problem)),
            ),
          ),
        ),
      ),
    ),
  )
}
