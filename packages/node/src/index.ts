export { NodePeer, type NodePeerOptions } from "./NodePeer.js"
export { DataDirectory, DataDirectoryError, DirectoryLockedError, writeAtomic } from "./DataDirectory.js"
export { PeerNetwork, type ListenOptions, type ServerAddress } from "./PeerNetwork.js"
