export { DashboardServer, type DashboardOptions } from "./DashboardServer.js"
export { locateDashboard } from "./staticFiles.js"
export type {
  Connection,
  DocumentDetail,
  DocumentList,
  DocumentSummary,
  Edit,
  Overview,
  Path,
  PeerView,
  QuarantinedDetail,
  QuarantinedList,
  QuarantinedSummary,
} from "./shapes.js"
