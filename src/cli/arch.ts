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
 *   3x128-conv1d16k5p2-relu-maxpool1d2-conv1d32k5p2-relu-gap1d-flatten-4
 *                           a layer list for signals: the input shape C×L first, then
 *                           conv1dN[kK][sS][pP] (N channels, kernel K (3), stride S (1),
 *                           padding P (0)), maxpool1dK[sS][pP], avgpool1dK[sS][pP] (window K,
 *                           stride S (K), padding P (0)), gap1d (the average over the whole
 *                           length), bn and the other tokens above.
 *   16-emb1000x32p0-ln-flatten-64-relu-4
 *   16-bag1000x32p0-4       token models: the sequence length first (the input values are
 *                           token ids), then embVxD (an embedding of V tokens into D values
 *                           per token) or bagVxD (their mean), each with pP for the padding
 *                           id P, ln (layerNorm over the last dimension), and the layers above.
 * Each token is parsed by its layer kind (src/nn/layers/) and checked like any layer spec.
 */
import { DistillError } from "../errors.js";
import { inferShapes, parseLayerToken, type LayerSpec } from "../nn/layers/index.js";
import { UsageError } from "./args.js";

export interface ParsedArch {
  /** Dense widths of an MLP, or undefined for a layer list. */
  widths?: number[];
  layers?: LayerSpec[];
  inputShape?: number[];
}

function bad(text: string, why: string): never {
  throw new UsageError(`--arch ${JSON.stringify(text)}: ${why} (e.g. 784-32-10 or 1x28x28-conv8k3p1-relu-maxpool2-flatten-10)`);
}

/** A layer list after its input shape ([features], [channels, length] or [channels, height, width]): each token parsed by its layer kind. */
function layerList(text: string, inputShape: number[], tokens: string[]): ParsedArch {
  const layers: LayerSpec[] = [];
  let shape = inputShape;
  for (const token of tokens) {
    if (/^\d+$/.test(token) && shape.length !== 1) bad(text, `a dense layer (${token}) needs "flatten" before it`);
    const spec = parseLayerToken(token, shape);
    if (!spec) {
      bad(
        text,
        shape.length === 1 && inputShape.length === 1
          ? `an MLP is positive integers joined by "-", and a layer list on flat inputs adds relu, tanh, sigmoid, gelu, leakyrelu, dropoutP, bn, ln, embVxD[pP] or bagVxD[pP] (convolutions need a CxHxW or CxL input); ${JSON.stringify(token)} is none of these`
          : `unknown layer ${JSON.stringify(token)}`,
      );
    }
    layers.push(spec);
    try {
      shape = inferShapes(layers, inputShape).shapes.at(-1)!;
    } catch (cause) {
      if (cause instanceof DistillError) bad(text, cause.message.replace(/^Sequential: /, ""));
      throw cause;
    }
  }
  if (!layers.some((l) => l.type === "dense")) bad(text, "a layer list needs at least one dense width");
  return { layers, inputShape };
}

export function parseArchitecture(text: unknown): ParsedArch {
  if (typeof text !== "string" || text === "") throw new UsageError("--arch is required, e.g. --arch 784-512-512-10");
  const tokens = text.split("-");
  const first = tokens[0]!;
  if (/^\d+$/.test(first) && tokens.some((t) => !/^\d+$/.test(t))) {
    if (!(Number(first) >= 1)) bad(text, "the input width must be a positive integer");
    return layerList(text, [Number(first)], tokens.slice(1));
  }
  if (!/^\d+x\d+(?:x\d+)?$/.test(first)) {
    const widths = tokens.map(Number);
    if (widths.length < 2 || widths.some((w) => !Number.isSafeInteger(w) || w < 1)) {
      bad(text, 'an MLP is positive integers joined by "-"');
    }
    return { widths };
  }
  return layerList(text, first.split("x").map(Number), tokens.slice(1));
}
