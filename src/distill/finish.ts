/**
 * Step 5 of distill, finish: the stages' result → the result handed back; with
 * quantization-aware distillation, its `quantized` int8 model. (The run's memory is freed
 * by DistillRun.dispose, whatever happened.)
 */
import { ArgumentError } from "../errors.js";
import { QuantizedModel } from "../quantize/model.js";
import { quantizedNet } from "../quantize/quantize.js";
import type { DistillResult } from "./options.js";
import type { DistillPlan } from "./plan.js";

export function finish(plan: DistillPlan, result: DistillResult): DistillResult {
  const { op, student, quantize } = plan;
  if (quantize) {
    // The int8 weights are the fake-quantization codes of the final weights; the input scales are the observers'.
    const scales = student.fakeQuantInputScales();
    const net = quantizedNet(op, student, quantize.layers, "int8", quantize.activations === "int8" ? "int8" : "float", (i) => {
      const scale = scales.get(i);
      if (scale === undefined) throw new ArgumentError(`${op}: layer ${i} saw no batch, so its input range is unknown; train for at least one step`);
      return scale;
    });
    result.quantized = new QuantizedModel(net, { engine: plan.engine });
  }
  return result;
}
