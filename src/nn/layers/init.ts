/**
 * Initial weights, drawn from the model's PRNG layer by layer:
 *   "torch" (the default): PyTorch's nn.Linear / nn.Conv2d default, weights and then biases
 *           uniform ±1/√fan_in;
 *   "he":   weights normal with std √(2/fan_in), biases 0;
 *   "glorot": weights uniform ±√(6/(fan_in + fan_out)), biases 0.
 * Conv layers use fan_in = in·kh·kw and fan_out = out·kh·kw.
 *
 * Why "torch" by default: on Hinton et al.'s MNIST recipe (T = 20, momentum SGD) He's
 * larger weights meet T²-scaled soft gradients and can kill every ReLU in the first
 * epoch; PyTorch's smaller uniform weights train there, and are what users of PyTorch
 * files expect (docs/hinton-mnist.md has the measurements).
 */
import type { InitName, ModelMemory } from "./layer.js";

/** Draws one layer's weights (outputs × fanIn values at float offset `weight`) and, for "torch", its biases. */
export function drawWeights(m: ModelMemory, init: InitName | undefined, weight: number, bias: number, fanIn: number, fanOut: number, outputs: number): void {
  const k = m.kernels;
  const w = m.paramsPtr + weight * 4;
  const n = fanIn * outputs;
  if (init === "glorot") {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    k.rng_uniform(m.rngPtr, w, n, -limit, limit);
  } else if (init === "he") {
    k.rng_normal(m.rngPtr, w, n, 0, Math.sqrt(2 / fanIn));
  } else {
    const limit = 1 / Math.sqrt(fanIn);
    k.rng_uniform(m.rngPtr, w, n, -limit, limit);
    k.rng_uniform(m.rngPtr, m.paramsPtr + bias * 4, outputs, -limit, limit);
  }
}
