/**
 * The conformance suite every transport under Cairn's network adapters
 * passes (a WebSocket, an in-process MemorySocket, the browser tab channel,
 * and any later one): connect, authenticate both ways, frames in order,
 * large frames, an oversize frame refused, backpressure, and close and
 * reconnect. The cases drive `CairnServerAdapter` and `CairnClientAdapter`
 * as a peer does; the transport only decides how a client's socket reaches
 * the server (see `TransportUnderTest`).
 *
 *   registerCases("WebSocket", transportConformance(subject))   // Node, under Vitest
 *   await runCases(transportConformance(subject))                // in a browser page
 *
 * A transport that cannot do a part says why in `cannot`; the case is then
 * skipped and reported by name. One that does not say so must provide the
 * hook, or the case fails.
 */
import { Repo } from "@automerge/automerge-repo"
import { check, checkBytes, checkEqual, eventually, pattern, settlesWithin, sleep, within, type ConformanceCase } from "./runner.js"
import { SERVER, TransportSession, untilStatus, type TransportPart, type TransportUnderTest } from "./transportSession.js"

export type { TransportUnderTest, ServerUnderTest, ClientOptions, TransportPart } from "./transportSession.js"

const MiB = 1024 * 1024

export function transportConformance(subject: TransportUnderTest): ConformanceCase[] {
  const cases: ConformanceCase[] = []
  const add = (
    name: string,
    run: (session: TransportSession) => Promise<void>,
    options: { part?: TransportPart; server?: Parameters<typeof TransportSession.start>[1] } = {},
  ) => {
    const skip = options.part === undefined ? undefined : subject.cannot?.[options.part]
    cases.push({
      name,
      ...(skip !== undefined ? { skip } : {}),
      run: async () => {
        const session = await TransportSession.start(subject, options.server)
        try {
          await run(session)
        } finally {
          await session.close()
        }
      },
    })
  }

  add(
    "connects: each side learns the other's peer id and what it said about itself",
    async session => {
      const client = await session.connected("client", { info: () => ({ role: "client" }) })
      checkEqual(client.adapter.remotePeerId, SERVER, "the server's peer id, as the client sees it")
      checkEqual(client.adapter.remoteInfo, { role: "server" }, "the welcome's info")
      const seen = await session.peers.until(event => event.peerId === "client", "the server's peer event")
      checkEqual(seen.info, { role: "client" }, "the hello's info, as the server sees it")
      checkEqual(
        session.server.adapter.peers.map(peer => peer.peerId),
        ["client"],
        "the server's peers",
      )
    },
    { server: { accept: () => ({ ok: true, info: { role: "server" } }) } },
  )

  add(
    "authenticates both ways: a challenge answered through the auth exchange, and the welcome checked by the client",
    async session => {
      const proving = (challenge: unknown, key: string) => ({ response: `${String(challenge)}:${key}` })
      const client = await session.connected("client", {
        info: () => ({ challenge: "client-nonce" }),
        answerAuth: message => proving((message as { challenge?: unknown }).challenge, "client-key"),
        checkWelcome: info => (info.response === "client-nonce:server-key" ? undefined : "the server did not prove its key"),
      })
      checkEqual(client.adapter.remoteInfo, { response: "client-nonce:server-key" }, "the server's proof")
      const impostor = session.client("impostor", { answerAuth: () => proving("server-nonce", "wrong-key") })
      await untilStatus(impostor, "refused", "the impostor to be refused")
      checkEqual(impostor.adapter.refusalReason, "wrong answer to the challenge", "the refusal's reason, as the client reports it")
      checkEqual(
        session.server.adapter.peers.map(peer => peer.peerId),
        ["client"],
        "the server's peers",
      )
    },
    {
      server: {
        accept: async (hello, _remote, auth) => {
          auth.send({ challenge: "server-nonce" })
          const answer = (await auth.receive()) as { response?: unknown }
          if (answer.response !== "server-nonce:client-key") return { ok: false, reason: "wrong answer to the challenge" }
          return { ok: true, info: { response: `${String(hello.info.challenge)}:server-key` } }
        },
      },
    },
  )

  add(
    "reports a server's refusal with its reason, and does not dial again",
    async session => {
      const client = session.client("client", { backoff: { initialMs: 10 } })
      await untilStatus(client, "refused", "the refusal")
      checkEqual(client.adapter.refusalReason, "not on the trust list", "the refusal's reason")
      await sleep(150)
      checkEqual(client.statuses.items.filter(item => item.status === "connecting").length, 1, "dials after a refusal")
      checkEqual(client.peers.items, [], "peers the refused client saw")
      checkEqual(session.server.adapter.peers, [], "the server's peers")
    },
    { server: { accept: () => ({ ok: false, reason: "not on the trust list" }) } },
  )

  add(
    "reports a client's refusal to the server with its reason: a welcome that fails its check, an auth it cannot answer",
    async session => {
      const doubting = session.client("doubting", { checkWelcome: () => "the server did not prove its key" })
      await untilStatus(doubting, "refused", "the doubting client to refuse")
      checkEqual(doubting.adapter.refusalReason, "the server did not prove its key", "the client's own reason")
      const keyless = session.client("keyless", {
        answerAuth: () => {
          throw new Error("no key for this server")
        },
      })
      await untilStatus(keyless, "refused", "the keyless client to refuse")
      check(
        keyless.adapter.refusalReason?.includes("no key for this server"),
        `the keyless client's reason: ${keyless.adapter.refusalReason}`,
      )
      await eventually(
        () => hasLog(session.logs, "the server did not prove its key") && hasLog(session.logs, "no key for this server"),
        "the server to log both reasons",
      )
      await session.peers.until(
        event => event.peerId === "doubting" && event.state === "disconnected",
        "the server to drop the doubting client",
      )
      checkEqual(session.server.adapter.peers, [], "the server's peers")
    },
    {
      server: {
        accept: async (hello, _remote, auth) => {
          if (hello.peerId === "keyless") {
            auth.send({ challenge: "nonce" })
            await auth.receive()
          }
          return { ok: true, info: {} }
        },
      },
    },
  )

  add("delivers frames in the order they were sent, both ways", async session => {
    const client = await session.connected("client")
    const count = 300
    for (let i = 0; i < count; i++) {
      client.adapter.sendControl(SERVER, { seq: i })
      session.server.adapter.sendControl(client.peerId, { seq: i })
    }
    await session.controls.until(() => session.controls.items.length >= count, "every frame at the server")
    await client.controls.until(() => client.controls.items.length >= count, "every frame at the client")
    const expected = Array.from({ length: count }, (_, i) => ({ seq: i }))
    checkEqual(session.controlsFrom("client"), expected, "frames at the server")
    checkEqual(
      client.controls.items.map(event => event.message),
      expected,
      "frames at the client",
    )
  })

  add("carries automerge-repo's sync: a document made on either side reaches the other", async session => {
    const serverRepo = new Repo({ network: [session.server.adapter], peerId: SERVER })
    const client = session.client("client", {}, { connect: false })
    const clientRepo = new Repo({ network: [client.adapter], peerId: client.peerId })
    try {
      await untilStatus(client, "connected", "the client's Repo to connect")
      const fromServer = serverRepo.create<{ title: string }>({ title: "made on the server" })
      const atClient = await within(5_000, "the client to find the server's document", clientRepo.find<{ title: string }>(fromServer.url))
      checkEqual(atClient.doc().title, "made on the server", "the server's document at the client")
      const fromClient = clientRepo.create<{ title: string }>({ title: "made on the client" })
      const atServer = await within(5_000, "the server to find the client's document", serverRepo.find<{ title: string }>(fromClient.url))
      checkEqual(atServer.doc().title, "made on the client", "the client's document at the server")
    } finally {
      await Promise.all([clientRepo.shutdown(), serverRepo.shutdown()])
    }
  })

  add("carries an 8 MiB frame intact, both ways", async session => {
    const client = await session.connected("client")
    const up = pattern(8 * MiB, 1)
    const down = pattern(8 * MiB, 2)
    client.adapter.sendControl(SERVER, { blob: up })
    session.server.adapter.sendControl(client.peerId, { blob: down })
    const atServer = await session.controls.until(() => true, "the large frame at the server", 15_000)
    const atClient = await client.controls.until(() => true, "the large frame at the client", 15_000)
    checkBytes((atServer.message as { blob?: Uint8Array }).blob, up, "the 8 MiB frame at the server")
    checkBytes((atClient.message as { blob?: Uint8Array }).blob, down, "the 8 MiB frame at the client")
  })

  add(
    "refuses an oversize frame: closes that connection, says why, and keeps serving the others",
    async session => {
      const offender = await session.connected("offender")
      const bystander = await session.connected("bystander")
      offender.adapter.sendControl(SERVER, { blob: pattern(2 * MiB) })
      await untilStatus(offender, "disconnected", "the offender's connection to close")
      check(
        session.logs.some(line => /exceed/i.test(line)),
        `the server did not say the frame was too large: ${JSON.stringify(session.logs)}`,
      )
      check(
        offender.logs.some(line => /exceed|larger than/i.test(line)),
        `the offender was not told the frame was too large: ${JSON.stringify(offender.logs)}`,
      )
      checkEqual(session.controlsFrom("offender"), [], "frames the server took from the offender")
      bystander.adapter.sendControl(SERVER, { still: "here" })
      session.server.adapter.sendControl(bystander.peerId, { and: "served" })
      await session.controls.until(event => event.peerId === "bystander", "the bystander's frame")
      await bystander.controls.until(() => true, "the server's frame to the bystander")
      checkEqual(bystander.adapter.status, "connected", "the bystander's status")
      await untilStatus(offender, "connected", "the offender to be taken back after its retry")
    },
    { server: { maxFrameBytes: 1 * MiB } },
  )

  add(
    "whenDrained waits while the peer does not read, and resolves once it reads again",
    async session => {
      const stopReading = session.server.stopReading
      check(stopReading, "the transport gives no stopReading() and does not say why in cannot.backpressure")
      const client = await session.connected("client", { maxBufferedBytes: 256 * 1024 })
      const resume = stopReading.call(session.server)
      let sent = 0
      let waited = false
      while (sent * 64 * 1024 < 64 * MiB) {
        client.adapter.sendControl(SERVER, { seq: sent, filler: pattern(64 * 1024, sent) })
        sent++
        if (!(await settlesWithin(300, client.adapter.whenDrained(SERVER)))) {
          waited = true
          break
        }
      }
      check(waited, `whenDrained never waited, after ${sent} frames of 64 KiB to a server that does not read`)
      resume()
      await within(10_000, "whenDrained once the server reads again", client.adapter.whenDrained(SERVER))
      await session.controls.until(() => session.controls.items.length >= sent, "every frame once the server reads", 15_000)
      checkEqual(
        session.controlsFrom("client").map(message => (message as { seq: number }).seq),
        Array.from({ length: sent }, (_, i) => i),
        "frames in order",
      )
      checkEqual(client.adapter.status, "connected", "the client's status after the wait")
    },
    { part: "backpressure" },
  )

  add("reconnects by itself when the server comes back, on a new connection id", async session => {
    const client = await session.connected("client")
    const before = await session.peers.until(event => event.peerId === "client", "the first connection")
    const clientSawBefore = await client.peers.until(() => true, "the client's first peer event")
    await session.server.stop()
    await untilStatus(client, "disconnected", "the client to notice the server went down")
    await session.peers.until(event => event.state === "disconnected", "the server to drop the client")
    await session.server.restart()
    await untilStatus(client, "connected", "the client to reconnect")
    const after = await session.peers.until(
      event => event.state === "connected" && event.connectionId !== before.connectionId,
      "the new connection at the server",
    )
    const clientSawAfter = await client.peers.until(
      event => event.state === "connected" && event.connectionId !== clientSawBefore.connectionId,
      "the client's new peer event",
    )
    check(
      after.connectionId !== before.connectionId && clientSawAfter.connectionId !== clientSawBefore.connectionId,
      "the new connection has a new connection id",
    )
    client.adapter.sendControl(SERVER, { after: "reconnect" })
    await session.controls.until(event => event.connectionId === after.connectionId, "a frame on the new connection")
  })

  add(
    "retries with growing delays while the server is down",
    async session => {
      const initialMs = 30
      const client = await session.connected("client", { backoff: { initialMs, factor: 2, maxMs: 5_000, jitter: 0 } })
      await session.server.stop()
      await untilStatus(client, "disconnected", "the client to notice the server went down")
      const from = client.statuses.items.length - 1
      // A delay is from a failed attempt ("disconnected") to the next dial ("connecting"); a busy machine only lengthens it.
      const delays = () => {
        const items = client.statuses.items.slice(from)
        return items.flatMap((item, i) =>
          item.status === "connecting" && items[i - 1]?.status === "disconnected" ? [item.at - items[i - 1]!.at] : [],
        )
      }
      await client.statuses.until(() => delays().length >= 4, "four dials while the server is down", 5_000)
      const found = delays().slice(0, 4)
      const grows = found.every((delay, i) => delay >= 0.9 * initialMs * 2 ** i) && found[3]! > 2 * found[0]!
      check(grows, `delays between dials do not double: ${found.join(", ")} ms`)
      await session.server.restart()
      await untilStatus(client, "connected", "the client to reconnect once the server is back")
    },
    { part: "backoffWhileDown" },
  )

  add("a newer connection with the same peer id replaces the older one, which is refused and told why", async session => {
    const older = await session.connected("client")
    const first = await session.peers.until(event => event.peerId === "client", "the first connection")
    const newer = session.client("client")
    await untilStatus(newer, "connected", "the newer connection")
    const second = await session.peers.until(
      event => event.state === "connected" && event.connectionId !== first.connectionId,
      "the newer connection at the server",
    )
    await untilStatus(older, "refused", "the older connection to be refused")
    check(/replaced/.test(older.adapter.refusalReason ?? ""), `the older connection's reason: ${older.adapter.refusalReason}`)
    checkEqual(
      session.server.adapter.peers.map(peer => peer.connectionId),
      [second.connectionId],
      "the server's connections",
    )
    session.server.adapter.sendControl(newer.peerId, { to: "newer" })
    await newer.controls.until(() => true, "a frame on the newer connection")
    checkEqual(older.controls.items, [], "frames the older connection got")
  })

  add("closes cleanly: a client that disconnects leaves the server, and a closing server tells its clients", async session => {
    const leaving = await session.connected("leaving")
    const staying = await session.connected("staying")
    leaving.adapter.disconnect()
    await session.peers.until(event => event.peerId === "leaving" && event.state === "disconnected", "the server to see the client leave")
    checkEqual(leaving.adapter.status, "disconnected", "the leaving client's status")
    session.server.adapter.disconnect()
    await untilStatus(staying, "disconnected", "the staying client to see the server close")
    checkEqual(session.server.adapter.peers, [], "the server's peers after it closed")
  })

  return cases
}

function hasLog(logs: readonly string[], text: string): boolean {
  return logs.some(line => line.includes(text))
}
