/**
 * Attention transfer (Zagoruyko & Komodakis, 2017): for chosen (student layer, teacher
 * layer) pairs of conv activations, the student's normalised spatial attention map
 * (mean over channels of |a|^p) is pulled towards the teacher's with loss
 * (β/2)·mean over the batch and the map's positions of (q_s − q_t)², as in the authors'
 * code. The gradient is injected into the student's
 * backward pass at that layer. Spatial sizes must match, or the teacher's map must be an
 * integer multiple of the student's in each direction (it is average-pooled down to it).
 */
import type { Engine } from "../engine.js";
import { OptionError } from "../errors.js";
import type { Sequential } from "../nn/sequential.js";

export interface AttentionSpec {
  /** Index of the student layer (a conv activation, shape [channels, h, w]). */
  student: number;
  /** Index of the teacher layer. */
  teacher: number;
  /**
   * β (default 100). The paper's 1000 suits batch-normalised activations; the gradient
   * grows as 1/‖map‖, so small unnormalised activations need less.
   */
  weight?: number;
  /** Exponent p of |a|^p (default 2). */
  p?: number;
}

interface Pair {
  student: number;
  teacher: number;
  weight: number;
  p: number;
  cs: number;
  ct: number;
  spatial: number;
  /** Teacher side: [h, w] and the pooling factor (1 = none). */
  th: number;
  tw: number;
  pool: number;
  /** Buffers: (batch, ct, spatial) pooled teacher activations, (batch, spatial) teacher maps, work, injected gradient. */
  pooled: number;
  qt: number;
  work: number;
  inject: number;
}

function shape3(model: Sequential, index: number, who: string, i: number): [number, number, number] {
  if (!Number.isInteger(index) || index < 0 || index >= model.layerCount) {
    throw new OptionError(`distill: attention[${i}].${who} = ${index} is not a layer of the ${who} (0..${model.layerCount - 1})`);
  }
  const s = model.layerShape(index);
  if (s.length !== 3) {
    throw new OptionError(
      `distill: attention[${i}].${who} = ${index} is not a conv activation (its output shape is [${s.join(", ")}]); attention maps need [channels, height, width]`,
    );
  }
  return s as [number, number, number];
}

export class AttentionTransfer {
  readonly inject = new Map<number, number>();
  private readonly pairs: Pair[];
  private readonly engine: Engine;
  private readonly owned: number[] = [];

  constructor(engine: Engine, specs: readonly AttentionSpec[], student: Sequential, teacher: Sequential, batch: number) {
    this.engine = engine;
    const checked = specs.map((s, i) => {
      const [cs, hs, ws] = shape3(student, s?.student, "student", i);
      const [ct, ht, wt] = shape3(teacher, s?.teacher, "teacher", i);
      const weight = s.weight ?? 100;
      const p = s.p ?? 2;
      if (!(weight > 0 && Number.isFinite(weight))) throw new OptionError(`distill: attention[${i}].weight must be a finite number > 0; got ${weight}`);
      if (!(p > 0 && Number.isFinite(p))) throw new OptionError(`distill: attention[${i}].p must be a finite number > 0; got ${p}`);
      const pool = ht / hs;
      if (!(Number.isInteger(pool) && pool >= 1 && wt / ws === pool)) {
        throw new OptionError(
          `distill: attention[${i}]: the student map is ${hs}×${ws} and the teacher's ${ht}×${wt}; they must match, ` +
            `or the teacher's be an integer multiple (it is average-pooled down)`,
        );
      }
      return { student: s.student, teacher: s.teacher, weight, p, cs, ct, spatial: hs * ws, th: ht, tw: wt, pool };
    });
    const seen = new Set<number>();
    for (const c of checked) {
      if (seen.has(c.student)) throw new OptionError(`distill: two attention pairs guide student layer ${c.student}; use one per layer`);
      seen.add(c.student);
    }
    const alloc = (floats: number) => {
      const p = engine.allocOwned(Math.max(floats, 4) * 4);
      this.owned.push(p);
      return p;
    };
    this.pairs = checked.map((c) => {
      student.keepPreActivation(c.student);
      teacher.keepPreActivation(c.teacher);
      const pair: Pair = {
        ...c,
        pooled: c.pool > 1 ? alloc(batch * c.ct * c.spatial) : 0,
        qt: alloc(batch * c.spatial),
        work: alloc(2 * c.spatial),
        inject: alloc(batch * c.cs * c.spatial),
      };
      this.inject.set(c.student, pair.inject);
      return pair;
    });
  }

  /** Σ over pairs of the transfer loss from the last compute() (a field, not a return value, so that it is never boxed). */
  loss = 0;

  /** After both forward passes on the same batch: the transfer loss into `loss`; writes the gradients to inject. */
  compute(student: Sequential, teacher: Sequential, rows: number): void {
    const k = this.engine.kernels;
    let total = 0;
    for (const pr of this.pairs) {
      let at = teacher.layerOutput(pr.teacher);
      if (pr.pool > 1) {
        k.avgpool2d_forward(pr.pooled, at, rows, pr.ct, pr.th, pr.tw, pr.pool, pr.pool, 0);
        at = pr.pooled;
      }
      k.attention_map(pr.qt, at, rows, pr.ct, pr.spatial, pr.p);
      total += k.attention_transfer(pr.inject, pr.work, student.layerOutput(pr.student), pr.qt, rows, pr.cs, pr.spatial, pr.p, pr.weight);
    }
    this.loss = total;
  }

  dispose(): void {
    for (const p of this.owned) this.engine.free(p);
    this.owned.length = 0;
  }
}
