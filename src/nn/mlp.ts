/** `mlp([784, 512, 10], options)`: the usual stack of dense layers with activations (and dropout) between them. */
import { ShapeError } from "../errors.js";
import { activation, checkLayers, dense, dropout, type ActivationName, type InitName, type LayerSpec } from "./layers/index.js";
import { checkedElsewhere, checkOptions, type Schema } from "../options/schema.js";
import { Sequential, SEQUENTIAL_SCHEMA, type SequentialOptions } from "./sequential.js";

export interface MlpOptions extends SequentialOptions {
  /** Activation after every hidden dense layer (default "relu"). */
  activation?: ActivationName;
  /** Dropout probability after every hidden activation (default 0: none). */
  dropout?: number;
  /** Dropout probability on the inputs, before the first dense layer (default 0: none), as in Hinton et al. 2012. */
  inputDropout?: number;
  /** Weight init (default "torch", PyTorch's nn.Linear default, for every activation; see Sequential). */
  init?: InitName;
}

/**
 * Layers for widths [in, h1, …, out]: (dropout on the inputs →) dense → activation
 * (→ dropout) for each hidden width, then a final dense layer producing logits. Layer indices (and so parameter names)
 * count every layer, as in PyTorch's nn.Sequential.
 */
export function mlpLayers(widths: readonly number[], options: MlpOptions = {}): LayerSpec[] {
  if (!Array.isArray(widths) || widths.length < 2) {
    throw new ShapeError(`mlp: widths must list at least an input and an output width, e.g. [784, 10]; got ${JSON.stringify(widths)}`);
  }
  const act = options.activation ?? "relu";
  const init = options.init ?? "torch";
  // Checked here too, so that bad options fail even when there is no hidden layer to carry them.
  checkLayers([
    ...(options.inputDropout !== undefined ? [dropout(options.inputDropout)] : []),
    dense(1, 1),
    activation(act),
    ...(options.dropout !== undefined ? [dropout(options.dropout)] : []),
  ]);
  const layers: LayerSpec[] = [];
  if (options.inputDropout !== undefined && options.inputDropout !== 0) layers.push(dropout(options.inputDropout));
  for (let i = 0; i + 1 < widths.length; i++) {
    layers.push(dense(widths[i]!, widths[i + 1]!, { init }));
    if (i + 2 < widths.length) {
      layers.push(activation(act));
      if (options.dropout !== undefined && options.dropout !== 0) layers.push(dropout(options.dropout));
    }
  }
  return layers;
}

const MLP_SCHEMA: Schema = {
  ...SEQUENTIAL_SCHEMA,
  activation: checkedElsewhere,
  dropout: checkedElsewhere,
  inputDropout: checkedElsewhere,
  init: checkedElsewhere,
};

export function mlp(widths: readonly number[], given: MlpOptions = {}): Sequential {
  const options = checkOptions("mlp", MLP_SCHEMA, given);
  const { activation: _a, dropout: _d, inputDropout: _i, init: _n, ...modelOptions } = options;
  return new Sequential(mlpLayers(widths, options), modelOptions);
}
