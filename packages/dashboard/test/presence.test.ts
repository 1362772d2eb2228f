import { describe, expect, it, vi } from "vitest"
import { NodePeer } from "@cairn/node"
import { cleanup, eventsOf, served, tempDir } from "./served.js"

describe("GET /api/presence and the presence event", () => {
  it("answers every machine presence sees, with its state and each link's transport, and streams changes", async () => {
    const { peer, base, address, call } = await served()
    const { until } = await eventsOf(base)
    await until(/event: hello/)

    const phone = await NodePeer.open({ dir: await tempDir(), name: "phone" })
    cleanup.push(() => phone.close())
    phone.presence.set({ status: "on the train" })
    phone.connect(`ws://127.0.0.1:${address.port}`)
    await until(/event: presence\ndata: .*"name":"phone".*"status":"on the train"/)

    const presence = (await call("GET", "/api/presence")).json
    expect(presence.machineId).toBe(peer.machineId)
    expect(presence.machines[0]).toMatchObject({ machineId: peer.machineId, links: [{ machineId: phone.machineId, transport: "ws" }] })
    expect(presence.machines.find((m: any) => m.machineId === phone.machineId)).toMatchObject({
      name: "phone",
      state: { status: "on the train" },
      via: phone.machineId,
      links: [{ machineId: peer.machineId, transport: "ws" }],
    })
    phone.presence.set({ status: "home" })
    await until(/event: presence\ndata: .*"status":"home"/)
    await vi.waitFor(async () => {
      const machines = (await call("GET", "/api/presence")).json.machines
      expect(machines.find((m: any) => m.machineId === phone.machineId)?.state).toEqual({ status: "home" })
    })
    expect((await call("POST", "/api/presence", {})).status).toBe(405)
  })
})
