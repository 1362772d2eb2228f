import { describe, expect, it } from "vitest"
import { transportOfUrl } from "../src/PeerNetwork.js"

describe("PeerNetwork", () => {
  it("dials ws:// and wss:// over WebSocket, tcp:// and tcps:// over TCP, and names the schemes it can for any other", () => {
    expect(["ws://h:1/", "wss://h:1/", "tcp://h:1", "tcps://h:1", "TCP://h:1"].map(transportOfUrl)).toEqual([
      "ws",
      "ws",
      "tcp",
      "tcp",
      "tcp",
    ])
    expect(() => transportOfUrl("http://127.0.0.1:3030")).toThrow(/use ws:\/\/, wss:\/\/, tcp:\/\/ or tcps:\/\//)
    expect(() => transportOfUrl("127.0.0.1:3030")).toThrow(TypeError)
  })
})
