/**
 * Datasets from CSV text and from pairs of .npy files.
 *
 * CSV (RFC 4180): records separated by LF or CRLF, fields by the delimiter; a field may be
 * quoted ("…", with "" for a quote, and may then hold delimiters and line breaks). Blank
 * lines (empty or whitespace only) are skipped, as is a final line break and a leading
 * UTF-8 byte-order mark. One column holds the class label, an integer ≥ 0 ("3" or "3.0"),
 * or (task "regression") one or more columns hold real-valued targets, or (task
 * "multilabel") one or more columns hold yes/no labels, 0 or 1 (−1 in every label column of
 * a row without labels: MISSING_LABEL); every other column
 * is a feature, a decimal number ("-1.5", ".5", "2e-3", surrounding
 * spaces allowed; no NaN, Infinity or empty values). Every problem is a FormatError naming
 * the line and column (both 1-based) where it is; a message quotes at most 40 characters
 * of a value or a column name (then "…" and its length), however long the field is.
 */
import { checkOptions, knownKeys } from "../options/schema.js";
import { FormatError, OptionError } from "../errors.js";
import { parseNpy, type NpyArray } from "../io/npy.js";
import { clipInput, clipList, quoteInput } from "../io/safetensors.js";
import { readBytes, type PathOrUrl } from "../runtime/files.js";
import { Dataset, MAX_CLASSES } from "./dataset.js";

export type CsvColumn = number | "last" | string;

export interface CsvOptions {
  /**
   * The label column: a 0-based index, "last", or a header name (default 0). For
   * regression, the target column or a list of them (in the order of the model's outputs);
   * for multilabel, the label columns (in the order of the model's outputs).
   */
  labelColumn?: CsvColumn | readonly CsvColumn[];
  /**
   * "classification" (default: integer class labels), "regression" (real-valued targets:
   * Dataset.regression) or "multilabel" (0/1 label columns: Dataset.multiLabel).
   */
  task?: "classification" | "regression" | "multilabel";
  /**
   * Whether the first record is a header of column names. "auto" (default): it is when
   * any of its fields is not a number.
   */
  header?: "auto" | boolean;
  /** Field separator, one character other than a quote or line break (default ","). */
  delimiter?: string;
  /** Number of classes (default: the largest label + 1). */
  classes?: number;
  /** Largest file `loadCsv` reads, in bytes (default MAX_CSV_BYTES); a longer one is refused while reading. */
  maxBytes?: number;
}

/**
 * 256 MiB: half of what V8 can hold as one string (the whole text is decoded at once), and
 * some 2.5 million rows of 30 numbers; `--data csv:/dev/zero` stops here.
 */
export const MAX_CSV_BYTES = 256 * 2 ** 20;

const F32_MAX = 3.4028234663852886e38;
const NUMBER = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

interface CsvRecord {
  /** 1-based line number where the record starts. */
  line: number;
  fields: string[];
}

/** Splits CSV text into records of raw fields (unquoted), skipping blank lines. */
function* records(text: string, delimiter: string, fail: (line: number, column: number, problem: string) => FormatError): Generator<CsvRecord> {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    let field = "";
    let quoted = false; // the current field was quoted
    let blank = true; // only whitespace so far in this record
    for (;;) {
      const c = text[i];
      if (c === undefined || c === "\n" || (c === "\r" && text[i + 1] === "\n")) {
        fields.push(field);
        i += c === "\r" ? 2 : c === "\n" ? 1 : 0;
        line++;
        break;
      }
      if (c === delimiter) {
        fields.push(field);
        field = "";
        quoted = false;
        blank = false;
        i++;
      } else if (c === '"' && field.trim() === "" && !quoted) {
        // A quoted field (spaces before the opening quote are dropped).
        const openLine = line;
        const column = fields.length + 1;
        field = "";
        i++;
        for (;;) {
          const q = text[i];
          if (q === undefined) throw fail(openLine, column, 'unterminated quoted field (no closing ")');
          if (q === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (q === "\n") line++;
          field += q;
          i++;
        }
        quoted = true;
        blank = false;
        while ((text[i] === " " || text[i] === "\t") && text[i] !== delimiter) i++;
        const next = text[i];
        if (next !== undefined && next !== delimiter && next !== "\n" && !(next === "\r" && text[i + 1] === "\n")) {
          throw fail(line, column, `unexpected ${JSON.stringify(next)} after a closing quote`);
        }
      } else {
        if (quoted) throw fail(line, fields.length + 1, "unexpected text after a closing quote");
        if (c === '"') throw fail(line, fields.length + 1, 'a quote inside an unquoted field (quote the whole field and write "" for a quote)');
        if (c.trim() !== "") blank = false;
        field += c;
        i++;
      }
    }
    if (!blank) yield { line: start, fields };
  }
}

/**
 * A Dataset from CSV text: features are every column but the label column, as f32.
 * `name` labels error messages (e.g. the file name).
 */
export function parseCsv(text: string, options: CsvOptions = {}, name = "CSV"): Dataset {
  const op = "parseCsv";
  if (typeof text !== "string") throw new OptionError(`${op}: text must be a string; got ${typeof text}`);
  const delimiter = options.delimiter ?? ",";
  if (typeof delimiter !== "string" || delimiter.length !== 1 || `"\r\n`.includes(delimiter)) {
    throw new OptionError(
      `${op}: delimiter must be one character other than a quote or line break; got ${typeof delimiter === "string" ? quoteInput(delimiter) : String(delimiter)}`,
    );
  }
  const headerOption = options.header ?? "auto";
  if (headerOption !== "auto" && typeof headerOption !== "boolean") {
    throw new OptionError(
      `${op}: header must be "auto", true or false; got ${typeof headerOption === "string" ? quoteInput(headerOption) : String(headerOption)}`,
    );
  }
  const task = options.task ?? "classification";
  if (task !== "classification" && task !== "regression" && task !== "multilabel") {
    throw new OptionError(
      `${op}: task must be "classification", "regression" or "multilabel"; got ${typeof task === "string" ? quoteInput(task) : String(task)}`,
    );
  }
  const multiLabel = task === "multilabel";
  const regression = task === "regression";
  if ((regression || multiLabel) && options.classes !== undefined) throw new OptionError(`${op}: classes does not apply to task ${quoteInput(task)}`);
  const labelOptions: readonly CsvColumn[] = Array.isArray(options.labelColumn) ? options.labelColumn : [options.labelColumn ?? 0];
  if (labelOptions.length === 0) throw new OptionError(`${op}: labelColumn is an empty list; name at least one target column`);
  if (labelOptions.length > 1 && !regression && !multiLabel)
    throw new OptionError(`${op}: several label columns need task "regression" or "multilabel" (a classification has one label column)`);
  for (const labelOption of labelOptions) {
    if (typeof labelOption === "string" && labelOption !== "last" && headerOption === false) {
      throw new OptionError(`${op}: labelColumn ${quoteInput(labelOption)} is a column name, but header is false`);
    }
  }
  const fail = (line: number, column: number, problem: string) => new FormatError(`${name}: line ${line}, column ${column}: ${problem}`);

  let names: string[] | undefined;
  let columns = 0;
  /** Column index → its place among the targets (−1: a feature). */
  let role: Int32Array = new Int32Array(0);
  let width = 0;
  const x: number[] = [];
  const y: number[] = [];
  const t: number[] = [];
  let rows = 0;
  for (const { line, fields } of records(text, delimiter, fail)) {
    if (columns === 0) {
      columns = fields.length;
      const isHeader = headerOption === "auto" ? fields.some((f) => !NUMBER.test(f.trim())) : headerOption;
      if (isHeader) names = fields.map((f) => f.trim());
      role = new Int32Array(columns).fill(-1);
      for (const labelOption of labelOptions) {
        const c = labelIndex(op, labelOption, columns, names, name);
        if (role[c]! >= 0) throw new OptionError(`${op}: labelColumn names column ${c} twice`);
        role[c] = width++;
      }
      if (columns - width < 1) throw new FormatError(`${name}: every column is a target; a dataset needs at least one feature`);
      if (isHeader) continue;
    }
    if (fields.length !== columns) {
      throw fail(line, Math.min(fields.length, columns) + 1, `this record has ${fields.length} fields, but the first has ${columns}`);
    }
    const rowTargets = t.length;
    for (let k = 0; k < width; k++) t.push(0);
    rows++;
    for (let c = 0; c < columns; c++) {
      const raw = fields[c]!.trim();
      const where = () => (names ? ` (${quoteInput(names[c]!)})` : "");
      if (!NUMBER.test(raw)) {
        throw fail(line, c + 1, raw === "" ? `empty value${where()}` : `${quoteInput(raw)}${where()} is not a number`);
      }
      const v = Number(raw);
      if (role[c]! >= 0 && multiLabel) {
        if (v !== 0 && v !== 1 && v !== -1) throw fail(line, c + 1, `label ${clipInput(raw)}${where()} is not 0, 1 or -1 (a row without labels)`);
        t[rowTargets + role[c]!] = v;
      } else if (role[c]! >= 0 && regression) {
        if (!(Math.abs(v) <= F32_MAX)) throw fail(line, c + 1, `target ${clipInput(raw)}${where()} is outside the float32 range`);
        t[rowTargets + role[c]!] = v;
      } else if (role[c]! >= 0) {
        if (!Number.isInteger(v) || v < 0 || v >= (options.classes ?? MAX_CLASSES)) {
          throw fail(line, c + 1, `label ${clipInput(raw)} is not a class id: expected an integer in [0, ${options.classes ?? MAX_CLASSES})`);
        }
        y.push(v);
      } else {
        if (!(Math.abs(v) <= F32_MAX)) throw fail(line, c + 1, `${clipInput(raw)}${where()} is outside the float32 range`);
        x.push(v);
      }
    }
  }
  if (rows === 0) throw new FormatError(`${name}: no data rows`);
  if (multiLabel) return Dataset.multiLabel(Float32Array.from(x), Int32Array.from(t), { features: columns - width, labels: width });
  if (regression) return Dataset.regression(Float32Array.from(x), Float32Array.from(t), { features: columns - width, outputs: width });
  return new Dataset(Float32Array.from(x), Int32Array.from(y), { features: columns - 1, classes: options.classes });
}

function labelIndex(op: string, option: unknown, columns: number, names: string[] | undefined, name: string): number {
  if (columns < 2) throw new FormatError(`${name}: the first record has ${columns} column; a dataset needs a label and at least one feature`);
  if (option === "last") return columns - 1;
  if (typeof option === "number") {
    if (!Number.isInteger(option) || option < 0 || option >= columns) {
      throw new OptionError(`${op}: labelColumn ${option} is not a column index: expected an integer in [0, ${columns})`);
    }
    return option;
  }
  if (typeof option !== "string") throw new OptionError(`${op}: labelColumn must be a column index, "last" or a header name; got ${typeof option}`);
  if (!names) throw new OptionError(`${op}: labelColumn ${quoteInput(option)} is a column name, but ${name} has no header`);
  const found = names.indexOf(option);
  if (found < 0) {
    throw new OptionError(`${op}: no column named ${quoteInput(option)}; the columns are ${clipList(names.map(quoteInput), "columns")}`);
  }
  if (names.indexOf(option, found + 1) >= 0) throw new OptionError(`${op}: the header names two columns ${quoteInput(option)}`);
  return found;
}

/** Reads a CSV file (a path or URL; UTF-8) and parses it with `parseCsv`. */
export async function loadCsv(path: PathOrUrl, options: CsvOptions = {}): Promise<Dataset> {
  options = checkOptions("loadCsv", knownKeys("labelColumn", "task", "header", "delimiter", "classes", "maxBytes"), options);
  const where = path instanceof URL ? path.href : String(path);
  const maxBytes = options.maxBytes ?? MAX_CSV_BYTES;
  if (!(Number.isSafeInteger(maxBytes) && maxBytes > 0)) throw new OptionError(`loadCsv: maxBytes must be a positive integer; got ${String(maxBytes)}`);
  const bytes = await readBytes(path, "loadCsv", maxBytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new FormatError(`${where}: not valid UTF-8 text`);
  }
  return parseCsv(text, options, where);
}

// ---------------------------------------------------------------- .npy pairs

export interface NpyDatasetOptions {
  /** Number of classes (default: the largest label + 1). */
  classes?: number;
}

/**
 * A Dataset from parsed arrays: x (n, features) — or (n, d1, d2, …), flattened to
 * features = d1·d2·… — of f2, f4, f8 or u1, and y (n) of an integer dtype.
 * Values are kept as they are: u1 pixels stay 0…255 (divide them yourself if the model
 * expects [0, 1]).
 */
export function npyToDataset(x: NpyArray, y: NpyArray, options: NpyDatasetOptions = {}, names = ["x", "y"]): Dataset {
  const [xName, yName] = names as [string, string];
  if (!["f2", "f4", "f8", "u1"].includes(x.dtype)) throw new FormatError(`${xName}: features must be f2, f4, f8 or u1; got ${x.dtype}`);
  if (x.shape.length < 2) throw new FormatError(`${xName}: features must be at least 2-D (n, features); got shape (${clipList(x.shape, "dimensions")})`);
  if (!/^[iu][1248]$/.test(y.dtype)) throw new FormatError(`${yName}: labels must be integers (i1 … i8, u1 … u8); got ${y.dtype}`);
  if (y.shape.length !== 1) throw new FormatError(`${yName}: labels must be 1-D (n); got shape (${clipList(y.shape, "dimensions")})`);
  const n = x.shape[0]!;
  if (y.shape[0] !== n) throw new FormatError(`${xName} holds ${n} rows but ${yName} holds ${y.shape[0]} labels`);
  if (n === 0) throw new FormatError(`${xName}: no rows`);
  const features = x.shape.slice(1).reduce((a, b) => a * b, 1);
  if (features === 0) throw new FormatError(`${xName}: rows of shape (${clipList(x.shape.slice(1), "dimensions")}) hold no features`);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(y.data[i]!);
    if (!(v >= 0 && v < MAX_CLASSES)) throw new FormatError(`${yName}: label ${String(y.data[i])} at index ${i} is not a class id in [0, ${MAX_CLASSES})`);
    labels[i] = v;
  }
  const values = x.data instanceof Float32Array ? x.data : Float32Array.from(x.data as Float64Array | Uint8Array);
  return new Dataset(values, labels, { features, classes: options.classes });
}

/** A Dataset from two .npy files (paths, URLs or bytes): features x and labels y; see `npyToDataset`. */
export async function loadNpyDataset(xSource: PathOrUrl | Uint8Array, ySource: PathOrUrl | Uint8Array, options: NpyDatasetOptions = {}): Promise<Dataset> {
  const read = async (source: PathOrUrl | Uint8Array, fallback: string): Promise<[NpyArray, string]> => {
    const where = source instanceof Uint8Array ? fallback : source instanceof URL ? source.href : String(source);
    const bytes = source instanceof Uint8Array ? source : await readBytes(source, "loadNpyDataset");
    return [parseNpy(bytes, where), where];
  };
  // Read at once; a failure of x is reported first whichever failed first (a stable message).
  const [xRead, yRead] = await Promise.allSettled([read(xSource, "x"), read(ySource, "y")]);
  if (xRead.status === "rejected") throw xRead.reason;
  if (yRead.status === "rejected") throw yRead.reason;
  const [[x, xName], [y, yName]] = [xRead.value, yRead.value];
  return npyToDataset(x, y, options, [xName, yName]);
}
