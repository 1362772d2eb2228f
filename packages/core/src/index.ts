export {
  f,
  Field,
  fieldFromJSON,
  type FieldJSON,
  type FieldKind,
  type Fields,
  type InferFields,
  type InferCreate,
  type CounterValue,
  type TextValue,
} from "./schema/fields.js"
export {
  defineType,
  typeFromJSON,
  assertTypeName,
  isTypeName,
  dataFieldOf,
  definitionToUse,
  TypeDefinition,
  type TypeDefinitionJSON,
  type DataOf,
  type CreateDataOf,
} from "./schema/TypeDefinition.js"
export {
  checkCompatibility,
  verdictExitCode,
  type CompatibilityReport,
  type FieldChange,
  type Verdict,
} from "./schema/compatibility.js"
export type { LensOp, LensStep } from "./schema/lenses.js"
export { schemaTypeOf, describedType, newestOf, type PublishedDefinition } from "./schema/schemaDocuments.js"
export type { PublishReport } from "./database/publishOnOpen.js"
export { newestPublished } from "./database/publishedSchemas.js"
export { toPlain, toTagged, fromTagged, untagForField, withDefaults, type TaggedKind } from "./schema/values.js"
export type { Doc, DocOf } from "./document/Document.js"
export { applyEdit, fieldAt, EditError, type Edit, type DataPath } from "./document/edits.js"
export { assertSameKind, type Draft, type DraftCounter, type DraftText, type DraftList } from "./document/draft.js"
export { sortedHeads, headsKey, sameHeads } from "./document/heads.js"
export { readEnvelope, verifyCreation, creationMessage, modifiedAtOf, type Envelope, type EnvelopeMeta } from "./document/envelope.js"
export { Catalog, isVisible, type CatalogEntry } from "./catalog/Catalog.js"
export { Database, type DatabaseOptions, type HistoryEntry, type DatabaseEvents } from "./database/Database.js"
export type { QuarantinedDocument } from "./database/Quarantine.js"
export type { FieldDiff, DiffKind } from "./database/changeDiff.js"
export { DocumentStore, type Origin } from "./database/DocumentStore.js"
export { Replica, type ReplicaEvents } from "./database/Replica.js"
export { DamagedDocumentError, type DamagedDocument } from "./database/DamagedDocuments.js"
export { Transaction, type TypeRef, type DraftOf } from "./database/Transaction.js"
export {
  runQuery,
  checkWhere,
  matchesWhere,
  compareValues,
  type QueryOptions,
  type Where,
  type Comparison,
  type OrderBy,
} from "./database/Query.js"
export type { AppDatabase, AppTransaction, CreateInput } from "./database/AppDatabase.js"
export { checkLocalWrite } from "./database/localWrites.js"
export {
  writeDetached,
  storedCreateData,
  newCreation,
  creationMessageOf,
  buildDetached,
  type DetachedWrite,
  type DetachedCreation,
} from "./document/detachedWrites.js"
export type { RebuildReport } from "./database/rebuild.js"
export { isAtomicStorage, type AtomicStorage, type BatchChunk } from "./storage/AtomicStorage.js"
export { isSequencedStorage, type CommittedRow, type SequencedStorage } from "./storage/SequencedStorage.js"
export { Machine, machineIdFromPublicKey, verifySignature, type MachineIdentity, type MachineIdentityJSON } from "./identity/Machine.js"
export { machineIdOfActor, newSessionActor, toHex, fromHex } from "./identity/actor.js"
export { encodeDocument, decodeDocument, EXPORT_FORMAT, type ExportedDocument, type DecodedDocument } from "./codec/exportCodec.js"
export * from "./errors.js"
export { Replicator, type ReplicatorOptions, type Grants, type PeerLink, type PeerStatus } from "./replication/Replicator.js"
export { compareDefinitions, describeMismatch, type SchemaMismatch } from "./replication/definitions.js"
export {
  PROTOCOL_VERSION,
  selects,
  type ReplicationInfo,
  type TypeSelection,
  type ControlMessage,
  type Checkpoint,
} from "./replication/protocol.js"
export {
  serverAuthenticate,
  clientAnswer,
  checkIdentity,
  newNonce,
  type Prover,
  type AuthHello,
  type AuthMessage,
} from "./auth/handshake.js"
export {
  Admission,
  replicationInfoOf,
  type AdmissionOptions,
  type Admitted,
  type AuthMode,
  type ClientAdmission,
  type Decision,
  type TrustLookup,
  type TrustedGrants,
} from "./auth/Admission.js"
export { Peer, type PeerOptions } from "./peer/Peer.js"
export type { Attachment, AttachOptions, ClientHooks, ServerHooks, ServerTransport } from "./peer/Attachment.js"
export { LiveValue, type Live } from "./helpers/Live.js"
export { LruCache } from "./helpers/LruCache.js"
export { Logger, type LogCallback, type LogEntry, type LogLevel, type LogSink } from "./helpers/Logger.js"
export {
  Presence,
  MAX_STATE_BYTES,
  type PresenceEntry,
  type PresenceLink,
  type PresenceState,
  type PresenceOptions,
} from "./presence/Presence.js"
export { MAX_EPHEMERAL_BYTES, type DocumentChannel } from "./presence/DocumentChannel.js"
export { checkVouches, makeVouch, packVouches, unpackVouches, vouchSigner, VOUCH_BYTES, type Vouch } from "./identity/vouch.js"
