/**
 * The GEMM plan's slots and their candidates by name: the TypeScript side of
 * assembly/gemm-plan.ts, whose comment says what each candidate does. A candidate's index
 * is its position here; test/kernels/gemm-plan.test.ts checks the counts against the
 * module's GEMM_*_CANDIDATES constants. Every candidate gives the same bits.
 */
import { GEMM_CLASS_LARGE, GEMM_CLASS_NARROW, GEMM_CLASS_ROW, GEMM_FORM_NN, GEMM_FORM_NT, GEMM_FORM_PANELS, GEMM_FORM_TN, GEMM_PLAN_VERSION } from "../abi.js";
import { DISTILL_WASM_VERSION } from "../../version.js";

export type GemmForm = "nn" | "nt" | "tn" | "panels";
export type ShapeClass = "large" | "narrow" | "row";

/** Large class: MC×KC×NC blocks; "across": the tile walks across B under one A panel; "pairs": two steps of p per iteration. */
export const LARGE_CANDIDATES = ["64x256x256", "128x128x512", "64x256x256-across", "64x256x256-pairs", "32x512x128-pairs"] as const;
/** Narrow class (n < 16, m ≥ 8): 8×4 tiles down the rows in blocks 1024 or 256 deep, or the large class's 4×8 tiles. */
export const NARROW_CANDIDATES = ["8x4-deep1024", "8x4-deep256", "4x8-tiles"] as const;
/** Row class (m < 4) of gemm_nn and gemm_tn: passes over 4 rows of B (two or one f32x4 of C per step), 2 or 8 rows. */
export const ROW_CANDIDATES = ["pass4x2", "pass4", "pass2", "pass8"] as const;
/** Row class of gemm_nt: 8, 4 or 16 rows of B per group of transposed products. */
export const ROW_T_CANDIDATES = ["group8", "group4", "group16"] as const;
/** gemm_panels: 2, 1 or 4 steps of p per loop iteration. */
export const PANEL_CANDIDATES = ["steps2", "steps1", "steps4"] as const;

export interface Slot {
  form: GemmForm;
  shapeClass: ShapeClass;
  /** The module's numbers for gemm_plan_set. */
  formId: number;
  classId: number;
  /** Candidate names; index 0 is the default (the kernels as first tuned, on AMD family 26). */
  candidates: readonly string[];
}

const FORM_IDS = { nn: GEMM_FORM_NN, nt: GEMM_FORM_NT, tn: GEMM_FORM_TN, panels: GEMM_FORM_PANELS } as const;
const CLASS_IDS = { large: GEMM_CLASS_LARGE, narrow: GEMM_CLASS_NARROW, row: GEMM_CLASS_ROW } as const;

function slot(form: GemmForm, shapeClass: ShapeClass, candidates: readonly string[]): Slot {
  return { form, shapeClass, formId: FORM_IDS[form], classId: CLASS_IDS[shapeClass], candidates };
}

/** Every slot of the plan, in the order plans list them. */
export const SLOTS: readonly Slot[] = [
  slot("nn", "large", LARGE_CANDIDATES),
  slot("nn", "narrow", NARROW_CANDIDATES),
  slot("nn", "row", ROW_CANDIDATES),
  slot("nt", "large", LARGE_CANDIDATES),
  slot("nt", "narrow", NARROW_CANDIDATES),
  slot("nt", "row", ROW_T_CANDIDATES),
  slot("tn", "large", LARGE_CANDIDATES),
  slot("tn", "narrow", NARROW_CANDIDATES),
  slot("tn", "row", ROW_CANDIDATES),
  slot("panels", "row", PANEL_CANDIDATES),
];

/** The classes each form has, in order. */
export const FORM_CLASSES: Readonly<Record<GemmForm, readonly ShapeClass[]>> = {
  nn: ["large", "narrow", "row"],
  nt: ["large", "narrow", "row"],
  tn: ["large", "narrow", "row"],
  panels: ["row"],
};

/**
 * What a saved plan must name to be used: this library version and the numbering of the
 * candidates (GEMM_PLAN_VERSION). A plan made by another version is ignored.
 */
export const PLAN_VERSION = `${DISTILL_WASM_VERSION}+gemm-plan.${GEMM_PLAN_VERSION}`;

/**
 * The shape class gemm_nn / gemm_nt / gemm_tn put an m × n product in (assembly/gemm.ts,
 * gemmPlanned): few rows, else a narrow C, else large. In the relaxed build gemm_nt has no
 * row path of its own (its few rows run the large kernel).
 */
export function shapeClassOf(form: Exclude<GemmForm, "panels">, m: number, n: number, relaxed = false): ShapeClass {
  if (m < 4 && !(form === "nt" && relaxed)) return "row";
  if (n < 16 && m >= 8) return "narrow";
  return "large";
}
