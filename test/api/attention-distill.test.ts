/**
 * Attention transfer inside `distill`: CNN teacher and student on MNIST digits. The
 * transfer loss falls, the student's attention maps move towards the teacher's (measured
 * with the kernels on held-out digits), runs are deterministic, a larger teacher map is
 * pooled down, and bad pairs are typed errors.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  conv2d,
  dense,
  distill,
  flatten,
  getEngine,
  init,
  loadMnistDigits,
  maxPool2d,
  OptionError,
  relu,
  Sequential,
  train,
  type Dataset,
} from "../../src/index.js";

const INPUT = [1, 28, 28];
/** Teacher: 8 channels at 14×14 after the first pool (layer 2), 16 at 7×7 (layer 5). */
const teacherLayers = () => [
  conv2d(1, 8, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  conv2d(8, 16, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  flatten(),
  dense(16 * 7 * 7, 10),
];
/** Student: 4 channels at 14×14 (layer 2), 4 at 7×7 (layer 5). */
const studentLayers = () => [
  conv2d(1, 4, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  conv2d(4, 4, 3, { padding: 1 }),
  relu(),
  maxPool2d(2),
  flatten(),
  dense(4 * 7 * 7, 10),
];

let data: Dataset;
let test: Dataset;
let teacher: Sequential;

/** Mean over test rows of ‖q_s − q_t‖² between the maps of student layer s and teacher layer t. */
function mapDistance(student: Sequential, s: number, t: number, channels: [number, number], spatial: number): number {
  const e = getEngine();
  const k = e.kernels;
  const rows = 64;
  return e.scoped(() => {
    const x = e.putF32(test.x.subarray(0, rows * 784));
    student.reserve(rows);
    teacher.reserve(rows);
    student.keepPreActivation(s);
    teacher.keepPreActivation(t);
    student.forward(x, rows, false);
    teacher.forward(x, rows, false);
    const qs = e.allocF32(rows * spatial);
    const qt = e.allocF32(rows * spatial);
    k.attention_map(qs, student.layerOutput(s), rows, channels[0], spatial, 2);
    k.attention_map(qt, teacher.layerOutput(t), rows, channels[1], spatial, 2);
    const a = e.f32(qs, rows * spatial);
    const b = e.f32(qt, rows * spatial);
    let d = 0;
    for (let i = 0; i < a.length; i++) d += (a[i]! - b[i]!) ** 2;
    return d / rows;
  });
}

describe("attention transfer in distill", () => {
  beforeAll(async () => {
    await init();
    ({ train: data, test } = await loadMnistDigits({ train: 400, test: 100, seed: 0 }));
    teacher = new Sequential(teacherLayers(), { seed: 1, inputShape: INPUT });
    await train(teacher, data, { epochs: 3, batchSize: 32, seed: 1 });
  }, 60_000);

  it("pulls the student's attention maps towards the teacher's, and reports the transfer loss", async () => {
    const run = async (withAttention: boolean) => {
      const student = new Sequential(studentLayers(), { seed: 2, inputShape: INPUT });
      const result = await distill({
        teacher,
        student,
        data,
        epochs: 3,
        batchSize: 32,
        seed: 3,
        ...(withAttention
          ? {
              attention: [
                { student: 2, teacher: 2 },
                { student: 5, teacher: 5 },
              ],
            }
          : {}),
      });
      return { student, result };
    };
    const plain = await run(false);
    const withAt = await run(true);
    const parts = withAt.result.history.map((r) => r.parts!.attention!);
    expect(parts.every((v) => v > 0 && Number.isFinite(v))).toBe(true);
    expect(parts.at(-1)!).toBeLessThan(parts[0]!);
    for (const [layer, channels, spatial] of [
      [2, [4, 8], 196],
      [5, [4, 16], 49],
    ] as const) {
      const near = mapDistance(withAt.student, layer, layer, [channels[0], channels[1]], spatial);
      const far = mapDistance(plain.student, layer, layer, [channels[0], channels[1]], spatial);
      expect(near, `layer ${layer}: with attention transfer ${near}, without ${far}`).toBeLessThan(far);
    }
    plain.student.dispose();
    withAt.student.dispose();
  }, 60_000);

  it("is deterministic, and pools a larger teacher map down to the student's size", async () => {
    const once = async () => {
      const student = new Sequential(studentLayers(), { seed: 4, inputShape: INPUT });
      // student layer 5 is 7×7; teacher layer 2 is 14×14: pooled 2×2 down to 7×7
      await distill({ teacher, student, data, epochs: 1, batchSize: 50, seed: 5, attention: [{ student: 5, teacher: 2, weight: 500 }] });
      const block = student.parameterBlock();
      student.dispose();
      return block;
    };
    expect(Array.from(await once())).toEqual(Array.from(await once()));
  }, 60_000);

  it("bad pairs are typed errors before training", async () => {
    const student = new Sequential(studentLayers(), { seed: 2, inputShape: INPUT });
    student.reserve(64); // the models' own activation buffers are not part of what a failed call may leave
    teacher.reserve(64);
    const before = getEngine().heapBytes;
    const cases: [object, RegExp][] = [
      [{ attention: [{ student: 7, teacher: 2 }] }, /not a conv activation/],
      [{ attention: [{ student: 2, teacher: 5 }] }, /student map is 14×14 and the teacher's 7×7/],
      [{ attention: [{ student: 2, teacher: 40 }] }, /not a layer of the teacher/],
      [{ attention: [{ student: 2, teacher: 2 }], teacher: (x: Float32Array, rows: number) => new Float32Array(rows * 10) }, /needs a single model teacher/],
      [{ attention: [{ student: 2, teacher: 2 }], hints: [{ student: 2, teacher: 2 }] }, /both a hint and an attention pair/],
    ];
    for (const [extra, message] of cases) {
      await expect(distill({ teacher, student, data, epochs: 1, ...extra })).rejects.toThrow(OptionError);
      await expect(distill({ teacher, student, data, epochs: 1, ...extra })).rejects.toThrow(message);
    }
    expect(getEngine().heapBytes).toBe(before);
    student.dispose();
  });
});
