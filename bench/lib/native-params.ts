/**
 * Weights both distill-wasm and the PyTorch driver (bench/torch/step.py, seeded_params) draw
 * from the same mulberry32 streams, so that their first losses and logits can be compared
 * before their times are: layer i's weights (outputs, inputs) then biases come from
 * mulberry32(seed + 7919·(i + 1)), uniform in ±1/√inputs (PyTorch's nn.Linear range),
 * rounded once to float32.
 */
import type { MlpParams } from "./mlp.js";
import { mulberry32 } from "./random.js";

export function seededParams(widths: readonly number[], seed: number): MlpParams {
  const layers: MlpParams = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const inputs = widths[i]!;
    const outputs = widths[i + 1]!;
    const bound = 1 / Math.sqrt(inputs);
    const next = mulberry32(seed + 7919 * (i + 1));
    const weight = new Float32Array(outputs * inputs);
    for (let j = 0; j < weight.length; j++) weight[j] = (next() * 2 - 1) * bound;
    const bias = new Float32Array(outputs);
    for (let j = 0; j < bias.length; j++) bias[j] = (next() * 2 - 1) * bound;
    layers.push({ inputs, outputs, weight, bias });
  }
  return layers;
}
