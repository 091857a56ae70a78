/**
 * The --arch syntax of the command-line tool:
 *
 *   784-512-512-10          an MLP: dense widths, with --activation / --dropout between them
 *   784-dropout0.2-1200-relu-dropout0.5-10
 *                           a layer list on flat inputs: the input width first, then dense
 *                           widths, activations, dropoutP and bn (no --activation / --dropout
 *                           added: every layer is written out)
 *   1x28x28-conv8k3p1-relu-maxpool2-conv16k3p1-bn-relu-avgpool2-flatten-10
 *                           a layer list for images: the input shape C×H×W first, then
 *                           convN[kK][sS][pP] (N channels, kernel K (3), stride S (1),
 *                           padding P (0)), maxpoolK, avgpoolK, bn (batch norm), relu, tanh,
 *                           sigmoid, gelu, leakyrelu, dropoutP (e.g. dropout0.2), flatten,
 *                           and a bare number N for a dense layer of N outputs.
 */
import { activation, avgPool2d, batchNorm, conv2d, dense, dropout, flatten, maxPool2d, type LayerSpec } from "../nn/layers.js";
import { UsageError } from "./args.js";

export interface ParsedArch {
  /** Dense widths of an MLP, or undefined for a layer list. */
  widths?: number[];
  layers?: LayerSpec[];
  inputShape?: number[];
}

const ACTIVATION_TOKENS: Record<string, Parameters<typeof activation>[0]> = {
  relu: "relu", tanh: "tanh", sigmoid: "sigmoid", gelu: "gelu", leakyrelu: "leaky_relu",
};

function bad(text: string, why: string): never {
  throw new UsageError(`--arch ${JSON.stringify(text)}: ${why} (e.g. 784-32-10 or 1x28x28-conv8k3p1-relu-maxpool2-flatten-10)`);
}

/** A layer list on flat inputs: "784-dropout0.2-1200-relu-…-10". */
function flatLayerList(text: string, tokens: string[]): ParsedArch {
  let width = Number(tokens[0]);
  if (!(width >= 1)) bad(text, "the input width must be a positive integer");
  const layers: LayerSpec[] = [];
  let m: RegExpExecArray | null;
  for (const token of tokens.slice(1)) {
    if (/^\d+$/.test(token)) {
      if (Number(token) < 1) bad(text, "dense widths must be positive");
      layers.push(dense(width, Number(token)));
      width = Number(token);
    } else if (token in ACTIVATION_TOKENS) {
      layers.push(activation(ACTIVATION_TOKENS[token]!));
    } else if ((m = /^dropout(0?\.\d+)$/.exec(token))) {
      layers.push(dropout(Number(m[1])));
    } else if (token === "bn") {
      layers.push(batchNorm(width));
    } else {
      bad(text, `an MLP is positive integers joined by "-", and a layer list on flat inputs adds relu, tanh, sigmoid, gelu, leakyrelu, dropoutP or bn (convolutions need a CxHxW input); ${JSON.stringify(token)} is none of these`);
    }
  }
  if (!layers.some((l) => l.type === "dense")) bad(text, "a layer list needs at least one dense width");
  return { layers, inputShape: [Number(tokens[0])] };
}

export function parseArchitecture(text: unknown): ParsedArch {
  if (typeof text !== "string" || text === "") throw new UsageError("--arch is required, e.g. --arch 784-512-512-10");
  const tokens = text.split("-");
  if (/^\d+$/.test(tokens[0]!) && tokens.some((t) => !/^\d+$/.test(t))) return flatLayerList(text, tokens);
  if (!/^\d+x\d+x\d+$/.test(tokens[0]!)) {
    const widths = tokens.map(Number);
    if (widths.length < 2 || widths.some((w) => !Number.isSafeInteger(w) || w < 1)) {
      bad(text, "an MLP is positive integers joined by \"-\"");
    }
    return { widths };
  }
  const inputShape = tokens[0]!.split("x").map(Number);
  let channels = inputShape[0]!;
  let flat = inputShape[0]! * inputShape[1]! * inputShape[2]!;
  let h = inputShape[1]!;
  let w = inputShape[2]!;
  let flattened = false;
  const layers: LayerSpec[] = [];
  for (const token of tokens.slice(1)) {
    let m: RegExpExecArray | null;
    if ((m = /^conv(\d+)(?:k(\d+))?(?:s(\d+))?(?:p(\d+))?$/.exec(token))) {
      const [out, k, s, p] = [Number(m[1]), Number(m[2] ?? 3), Number(m[3] ?? 1), Number(m[4] ?? 0)];
      layers.push(conv2d(channels, out, k, { stride: s, padding: p }));
      channels = out;
      h = Math.floor((h + 2 * p - k) / s) + 1;
      w = Math.floor((w + 2 * p - k) / s) + 1;
    } else if ((m = /^(max|avg)pool(\d+)$/.exec(token))) {
      const k = Number(m[2]);
      layers.push(m[1] === "max" ? maxPool2d(k) : avgPool2d(k));
      h = Math.floor((h - k) / k) + 1;
      w = Math.floor((w - k) / k) + 1;
    } else if (token === "bn") {
      layers.push(batchNorm(flattened ? flat : channels));
    } else if (token in ACTIVATION_TOKENS) {
      layers.push(activation(ACTIVATION_TOKENS[token]!));
    } else if ((m = /^dropout(0?\.\d+)$/.exec(token))) {
      layers.push(dropout(Number(m[1])));
    } else if (token === "flatten") {
      layers.push(flatten());
      flattened = true;
    } else if (/^\d+$/.test(token)) {
      if (!flattened) bad(text, `a dense layer (${token}) needs "flatten" before it`);
      layers.push(dense(flat, Number(token)));
      flat = Number(token);
      continue;
    } else {
      bad(text, `unknown layer ${JSON.stringify(token)}`);
    }
    if (!flattened) flat = channels * h * w;
  }
  return { layers, inputShape };
}
