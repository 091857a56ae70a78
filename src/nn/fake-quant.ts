/**
 * Quantization-aware training of one dense or conv2d layer: the LayerFakeQuant a model
 * attaches to the layer while `distill({ quantize })` trains it (assembly/fakequant.ts).
 *
 *   forward   x_q = fake_quant_tensor(x, s_x)        the input on the int8 grid of its scale
 *             W_q = fake_quant_channels(W, s_W)      the weight per output channel, s_W = max|W_c| / 127
 *             the layer's usual kernels on x_q and W_q
 *   backward  the usual kernels (dW from x_q, dx from W_q), then both gradients pass straight
 *             through (zeroed only where a value fell outside the clamp range, as PyTorch's
 *             FakeQuantize); the optimizer updates the float W
 *
 * s_x comes from a moving-average min/max observer (PyTorch's MovingAverageMinMaxObserver,
 * averaging constant 0.01, symmetric range): every training batch moves it, inference passes
 * read it. The activation ranges change while the student learns; the observer follows them
 * at no cost beyond a min/max pass, and the scales the int8 model gets are the ones its last
 * training steps used (a calibration pass would measure ranges once, from a student that was
 * still changing, or cost a pass over the data every epoch).
 *
 * Memory (the engine's heap, byte offsets): W_q (weight length f32), s_W (channels f32), the
 * observer state (2 f32: min, max), x_q (rows·inputs f32, grown to the largest batch seen).
 */
import type { Engine } from "../engine.js";
import type { LayerFakeQuant, ModelMemory } from "./layers/layer.js";

/** PyTorch's default averaging constant of the moving-average observer. */
export const OBSERVER_MOMENTUM = 0.01;

export class FakeQuant implements LayerFakeQuant {
  quantizedWeight = 0;
  private readonly scales: number;
  private readonly state: number;
  private inputCopy = 0;
  private capacity = 0;
  private lastInput = 0;
  /** the scale of the last fake-quantized input (f32), 0 before the first pass */
  private scale = 0;
  private readonly momentum = Math.fround(OBSERVER_MOMENTUM);

  /**
   * @param weight offset (floats) of the layer's weight in the parameter block
   * @param channels output channels (rows of the weight); size: floats per channel
   * @param inputs floats of one input row; 0 to leave the inputs in float (weights only)
   */
  constructor(
    private readonly engine: Engine,
    private readonly weight: number,
    private readonly channels: number,
    private readonly size: number,
    private readonly inputs: number,
  ) {
    const taken: number[] = [];
    try {
      this.quantizedWeight = engine.allocOwned(channels * size * 4);
      taken.push(this.quantizedWeight);
      this.scales = engine.allocOwned(channels * 4);
      taken.push(this.scales);
      this.state = engine.allocOwned(16);
    } catch (err) {
      for (const p of taken) engine.free(p);
      throw err;
    }
    engine.f32(this.state, 2).set([Infinity, -Infinity]);
  }

  input(m: ModelMemory, x: number, rows: number, training: boolean): number {
    if (this.inputs === 0) return x;
    const k = m.kernels;
    const n = rows * this.inputs;
    // Inference before any training batch sets the range from its own batch (nothing else is known yet).
    if (training || this.scale === 0) this.scale = k.observe_range(this.state, x, n, this.momentum);
    if (rows > this.capacity) {
      if (this.inputCopy) this.engine.free(this.inputCopy);
      this.inputCopy = 0;
      this.capacity = 0;
      this.inputCopy = this.engine.allocOwned(n * 4);
      this.capacity = rows;
    }
    k.fake_quant_tensor_forward(this.inputCopy, x, n, this.scale);
    this.lastInput = x;
    return this.inputCopy;
  }

  quantizeWeight(m: ModelMemory): number {
    const w = m.paramsPtr + this.weight * 4;
    m.kernels.channel_scales(this.scales, w, this.channels, this.size);
    m.kernels.fake_quant_channels_forward(this.quantizedWeight, w, this.scales, this.channels, this.size);
    return this.quantizedWeight;
  }

  weightGradient(m: ModelMemory): void {
    const g = m.gradsPtr + this.weight * 4;
    m.kernels.fake_quant_channels_backward(g, g, m.paramsPtr + this.weight * 4, this.scales, this.channels, this.size);
  }

  inputGradient(m: ModelMemory, dx: number, rows: number): void {
    if (this.inputs === 0) return;
    m.kernels.fake_quant_tensor_backward(dx, dx, this.lastInput, rows * this.inputs, this.scale);
  }

  /** The observed input scale (f32 > 0), or undefined before the first pass. */
  get inputScale(): number | undefined {
    return this.scale > 0 ? this.scale : undefined;
  }

  /** The observer's [min, max] (for checkpoints and tests). */
  get range(): [number, number] {
    const v = this.engine.f32(this.state, 2);
    return [v[0]!, v[1]!];
  }

  dispose(): void {
    for (const p of [this.quantizedWeight, this.scales, this.state, this.inputCopy]) if (p) this.engine.free(p);
    this.quantizedWeight = this.inputCopy = 0;
    this.capacity = 0;
  }
}
