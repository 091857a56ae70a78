/** Metrics: held-out evaluation, teacher–student agreement, and the teacher / student / baseline report. */
export { evaluate, agreement, type EvaluateOptions, type Evaluation, type ReliabilityBin, type AgreementOptions, type Agreement } from "./evaluate.js";
export { evaluateRegression, type RegressionEvaluation } from "./regression.js";
export { evaluateMultiLabel, type MultiLabelEvaluation } from "./multi-label.js";
export { compare, formatCompareTable, type CompareOptions, type CompareResult, type CompareRow, type CompareName } from "./compare.js";
