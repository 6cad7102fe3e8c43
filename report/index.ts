export { renderAddressMap } from "./address-map-svg.ts";
export { regionsOf, sframeRangesOf } from "./from-process.ts";
export { renderReport } from "./html.ts";
export type { ReportData, ReportRegion, ReportSframeRange, ReportTrace, TimelineEntry } from "./model.ts";
export { rfcOptionsFrom, rfcReportData } from "./rfc-report.ts";
export { interleave, TimelineRecorder } from "./timeline.ts";
