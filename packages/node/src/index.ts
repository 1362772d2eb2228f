export { NodePeer, type NodePeerOptions } from "./NodePeer.js"
export { DataDirectory, DataDirectoryError, DirectoryLockedError, writeAtomic } from "./DataDirectory.js"
export {
  PeerNetwork,
  type AuthMode,
  type ConnectOptions,
  type ListenOptions,
  type NetworkLimits,
  type ServerAddress,
  type TcpListenOptions,
  type Transport,
  transportOfUrl,
} from "./PeerNetwork.js"
export { TrustList, TrustError, parseTypeSelection, type TrustedMachine, type TrustStore } from "./TrustList.js"
export { PgStore, PgStoreError, type PgStoreOptions } from "./storage/postgres/PgStore.js"
export { PgStorage } from "./storage/postgres/PgStorage.js"
export { WebSocketServerTransport, type WebSocketServerTransportOptions, type ListenAddress } from "./network/WebSocketServerTransport.js"
export { createNodeClientAdapter } from "./network/createNodeClientAdapter.js"
export {
  Discovery,
  keyFingerprint,
  nearbyUrl,
  SERVICE_TYPE,
  type AdvertisedPorts,
  type DiscoveryOptions,
  type NearbyMachine,
} from "./discovery/Discovery.js"
export { TcpServerTransport, type TcpServerTransportOptions } from "./network/TcpServerTransport.js"
export { createTcpClientAdapter, parseTcpUrl, type TcpClientAdapterOptions, type TcpAddress } from "./network/TcpClientAdapter.js"
export {
  FolderSync,
  type FolderSyncOptions,
  type FolderSyncResult,
  type FolderStatus,
  type FolderPeer,
} from "./folder/FolderSync.js"
export type { SkippedFile } from "./folder/FolderImport.js"
export { openLocal, type OpenLocalOptions, type LocalAppDatabase } from "./local/openLocal.js"
export { LocalDatabase } from "./local/LocalDatabase.js"
export { LocalClient } from "./local/LocalClient.js"
export { LocalServer, type LocalMethod, type MethodContext } from "./local/LocalServer.js"
export { LocalPeerError, SOCKET_NAME, MAX_REQUEST_CHARS } from "./local/wire.js"
