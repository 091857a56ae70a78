/** Training reports: a self-contained HTML page (`renderReport`) and its JSON form (`reportJson`). */
export { renderReport, PALETTE, type RenderOptions } from "./html.js";
export {
  reportJson,
  collectSamples,
  describeMachine,
  toJsonValue,
  type ReportData,
  type ReportModel,
  type ReportSample,
  type ReportJson,
  type CollectSamplesOptions,
} from "./data.js";
export { encodeGrayscalePng, digitDataUrl } from "./png.js";
