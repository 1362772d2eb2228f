export { DashboardServer, type DashboardOptions } from "./DashboardServer.js"
export { locateDashboard } from "./staticFiles.js"
export type { Overview, PeerView, DocumentSummary, DocumentDetail, QuarantinedSummary, QuarantinedDetail } from "./DashboardApi.js"
export type { Edit } from "./edits.js"
