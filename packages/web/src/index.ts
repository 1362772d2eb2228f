export { BrowserPeer, type BrowserPeerOptions, type BrowserPeerStatus } from "./BrowserPeer.js"
export type { ServerAuth } from "./Leader.js"
export { liveDocument, liveQuery, liveStatus, LiveValue, type Live } from "./live.js"
export { loadBrowserMachine, IDENTITY_DATABASE, type BrowserMachine } from "./identity/browserMachine.js"
