// The GEMM plan: which candidate loop nest each form runs in each shape class, set at run
// time (src/runtime/gemm-plan/ measures the candidates at init and sets the fastest).
//
// Every candidate sums each element of C over p = 0..k-1 in order, one multiply and one add
// per step (FMA in the relaxed build), then adds the bias and applies ReLU: candidates
// differ only in blocking, register tiling and loop order, never in the bits they give.
//
//   form:  GEMM_FORM_NN, GEMM_FORM_NT, GEMM_FORM_TN (gemm_nn / gemm_nt / gemm_tn) and
//          GEMM_FORM_PANELS (gemm_panels, which has only the row class)
//   class: GEMM_CLASS_LARGE  m ≥ 4 and not narrow: the packed 4×8 micro-kernel
//          GEMM_CLASS_NARROW n < 16 and m ≥ 8 (a classifier head)
//          GEMM_CLASS_ROW    m < 4 (batch-1 inference)
//
// Candidates, by index (the names are in src/runtime/gemm-plan/candidates.ts):
//   large:  MC×KC×NC blocks of packed A and B, which packed panel stays in L1 while the
//           other streams (B: the 4×8 tile walks down A's panels; A: it walks across B's),
//           and whether the micro-kernel takes one or two steps of p per loop iteration
//           0  64×256×256, B panel in L1, 1 step      (the original kernel)
//           1  128×128×512, B panel in L1, 1 step     (smaller L1 footprint per panel)
//           2  64×256×256, A panel in L1, 1 step
//           3  64×256×256, B panel in L1, 2 steps     (fewer loop instructions per flop)
//           4  32×512×128, B panel in L1, 2 steps     (deeper blocks, fewer passes over C)
//   narrow: 0  8×4 tiles down the rows, blocks 1024 deep (the original)
//           1  8×4 tiles down the rows, blocks 256 deep
//           2  the large class's kernel (4×8 tiles with zero-padded edge columns)
//   row (gemm_nn, gemm_tn): C's row built in passes over rows of B
//           0  4 rows, two f32x4 of C per loop iteration  (1.2-1.3× candidate 1 at 1×784×800)
//           1  4 rows, one f32x4 per iteration              (the original)
//           2  2 rows      3  8 rows
//   row (gemm_nt): 8 (0), 4 (1) or 16 (2) rows of B per group of transposed products (groups
//           of 12 and loops over 8 steps of p measured slower: eight shuffles per 16 products
//           share the vector pipes with the multiplies and adds)
//   panels: 2 (0), 1 (1) or 4 (2) steps of p per loop iteration
//
// The plan lives in wasm globals, so each instance (every worker of a threaded engine)
// holds its own copy and must be given it.

export const GEMM_FORM_NN: i32 = 0;
export const GEMM_FORM_NT: i32 = 1;
export const GEMM_FORM_TN: i32 = 2;
export const GEMM_FORM_PANELS: i32 = 3;
export const GEMM_CLASS_LARGE: i32 = 0;
export const GEMM_CLASS_NARROW: i32 = 1;
export const GEMM_CLASS_ROW: i32 = 2;
export const GEMM_LARGE_CANDIDATES: i32 = 5;
export const GEMM_NARROW_CANDIDATES: i32 = 3;
export const GEMM_ROW_CANDIDATES: i32 = 4;
export const GEMM_ROW_T_CANDIDATES: i32 = 3;
export const GEMM_PANEL_CANDIDATES: i32 = 3;
/** Bumped whenever a candidate index changes meaning: a saved plan names the version it was made for. */
export const GEMM_PLAN_VERSION: i32 = 2;

let nnLarge: i32 = 0, nnNarrow: i32 = 0, nnRow: i32 = 0;
let ntLarge: i32 = 0, ntNarrow: i32 = 0, ntRow: i32 = 0;
let tnLarge: i32 = 0, tnNarrow: i32 = 0, tnRow: i32 = 0;
let panelsRow: i32 = 0;

/** How many candidates a (form, class) slot has; 0 for a slot that does not exist. */
function candidateCount(form: i32, shapeClass: i32): i32 {
  if (form == GEMM_FORM_PANELS) return shapeClass == GEMM_CLASS_ROW ? GEMM_PANEL_CANDIDATES : 0;
  if (form < GEMM_FORM_NN || form > GEMM_FORM_TN) return 0;
  if (shapeClass == GEMM_CLASS_LARGE) return GEMM_LARGE_CANDIDATES;
  if (shapeClass == GEMM_CLASS_NARROW) return GEMM_NARROW_CANDIDATES;
  if (shapeClass == GEMM_CLASS_ROW) return form == GEMM_FORM_NT ? GEMM_ROW_T_CANDIDATES : GEMM_ROW_CANDIDATES;
  return 0;
}

/**
 * Makes `form` run `candidate` in `shapeClass`. Returns 1, or 0 (and changes nothing) when
 * the slot or the candidate does not exist.
 */
export function gemm_plan_set(form: i32, shapeClass: i32, candidate: i32): i32 {
  if (candidate < 0 || candidate >= candidateCount(form, shapeClass)) return 0;
  const slot = form * 3 + shapeClass;
  if (slot == 0) nnLarge = candidate;
  else if (slot == 1) nnNarrow = candidate;
  else if (slot == 2) nnRow = candidate;
  else if (slot == 3) ntLarge = candidate;
  else if (slot == 4) ntNarrow = candidate;
  else if (slot == 5) ntRow = candidate;
  else if (slot == 6) tnLarge = candidate;
  else if (slot == 7) tnNarrow = candidate;
  else if (slot == 8) tnRow = candidate;
  else panelsRow = candidate;
  return 1;
}

/** The candidate `form` runs in `shapeClass`, or -1 for a slot that does not exist. */
export function gemm_plan_get(form: i32, shapeClass: i32): i32 {
  if (candidateCount(form, shapeClass) == 0) return -1;
  return planOf(form, shapeClass);
}

/** The slot's candidate (form and class valid). */
// @ts-ignore: decorator
@inline export function planOf(form: i32, shapeClass: i32): i32 {
  const slot = form * 3 + shapeClass;
  if (slot == 0) return nnLarge;
  if (slot == 1) return nnNarrow;
  if (slot == 2) return nnRow;
  if (slot == 3) return ntLarge;
  if (slot == 4) return ntNarrow;
  if (slot == 5) return ntRow;
  if (slot == 6) return tnLarge;
  if (slot == 7) return tnNarrow;
  if (slot == 8) return tnRow;
  return panelsRow;
}
