/**
 * Typed errors. Every error this library throws on purpose is a `DistillError` with a
 * stable `code`, and a message that names the offending argument and says what was
 * expected, so that callers can branch on `code` and users can fix the input.
 */

export type ErrorCode =
  | "SHAPE_MISMATCH"
  | "NON_FINITE"
  | "LABEL_OUT_OF_RANGE"
  | "TOKEN_OUT_OF_RANGE"
  | "INVALID_OPTION"
  | "INVALID_ARGUMENT"
  | "UNSUPPORTED_RUNTIME"
  | "OUT_OF_MEMORY"
  | "NOT_INITIALIZED"
  | "WASM_LOAD_FAILED"
  | "KERNEL_ASSERTION"
  | "INVALID_FILE"
  | "TRAINING_DIVERGED"
  | "WORKER_FAILED"
  | "TASK_MISMATCH";

export class DistillError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

/** An array has the wrong length, or dimensions are not positive integers. */
export class ShapeError extends DistillError {
  constructor(message: string) {
    super("SHAPE_MISMATCH", message);
  }
}

/** NaN or ±Infinity where finite numbers are required. */
export class NonFiniteError extends DistillError {
  constructor(message: string) {
    super("NON_FINITE", message);
  }
}

/**
 * Data, model or teacher of different tasks mixed: a multi-label model or teacher with a
 * single-label dataset, a classifier with multi-label data, validation of another task, ….
 */
export class TaskError extends DistillError {
  constructor(message: string) {
    super("TASK_MISMATCH", message);
  }
}

/** A class label is not an integer in [0, classes). */
export class LabelError extends DistillError {
  constructor(message: string) {
    super("LABEL_OUT_OF_RANGE", message);
  }
}

/** A token id is not an integer in [0, vocab), or a sequence length is outside [0, seqLen]. */
export class TokenError extends DistillError {
  constructor(message: string) {
    super("TOKEN_OUT_OF_RANGE", message);
  }
}

/** An option is outside its allowed range (temperature ≤ 0, alpha outside [0, 1], ...). */
export class OptionError extends DistillError {
  constructor(message: string) {
    super("INVALID_OPTION", message);
  }
}

/** An argument has the wrong type (for example a string where an array is expected). */
export class ArgumentError extends DistillError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

/** The JavaScript engine lacks a WebAssembly feature the chosen build needs. */
export class RuntimeSupportError extends DistillError {
  constructor(message: string) {
    super("UNSUPPORTED_RUNTIME", message);
  }
}

/** WebAssembly linear memory cannot grow to the size needed. */
export class OutOfMemoryError extends DistillError {
  constructor(message: string) {
    super("OUT_OF_MEMORY", message);
  }
}

/** An operation needs the module but `init()` has not been awaited. */
export class NotInitializedError extends DistillError {
  constructor(message = "distill-wasm is not initialised: call `await init()` once before using it") {
    super("NOT_INITIALIZED", message);
  }
}

/** The WebAssembly bytes could not be fetched, compiled or instantiated. */
export class WasmLoadError extends DistillError {
  constructor(message: string) {
    super("WASM_LOAD_FAILED", message);
  }
}

/** A precondition inside a kernel failed (only the debug build checks them). */
export class KernelAssertionError extends DistillError {
  constructor(message: string) {
    super("KERNEL_ASSERTION", message);
  }
}

/** A file or byte buffer is not in the format it claims (bad magic, truncated, inconsistent sizes). */
export class FormatError extends DistillError {
  constructor(message: string) {
    super("INVALID_FILE", message);
  }
}

/**
 * Training collapsed (a loss that is not finite or exploded, a dead ReLU layer, outputs
 * that ignore the input, accuracy back at chance): the model holds the last good weights
 * the message names.
 */
export class DivergenceError extends DistillError {
  constructor(message: string) {
    super("TRAINING_DIVERGED", message);
  }
}

/** A worker thread could not start or failed while running its share of a kernel. */
export class WorkerError extends DistillError {
  constructor(message: string) {
    super("WORKER_FAILED", message);
  }
}
