/**
 * Every public function that takes an options object refuses a key it does not know, with
 * an OptionError that names it and suggests the closest known one, before any work: the
 * loaders, the Dataset splits, the model-file reader and the functional ops (the training
 * functions' schemas are tested with them).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  Dataset,
  OptionError,
  crossEntropy,
  distillationLoss,
  init,
  klDivergence,
  loadCsv,
  loadIdx,
  loadMnistDigits,
  logSoftmax,
  matmul,
  mlp,
  modelFromSafetensors,
  modelToSafetensors,
  mseLoss,
  softmax,
} from "../../src/index.js";

beforeAll(async () => {
  await init();
});

const data = new Dataset(
  new Float32Array(40).map((_, i) => i / 40),
  Int32Array.from({ length: 20 }, (_, i) => i % 2),
  { features: 2 },
);

describe("unknown option keys", () => {
  const cases: [string, () => unknown, RegExp][] = [
    ["Dataset.split", () => data.split(0.5, { sead: 1 } as never), /Dataset\.split: unknown option "sead"; did you mean "seed"\?/],
    ["Dataset.partition", () => data.partition([5, 5], { stratifed: true } as never), /did you mean "stratified"/],
    ["Dataset.keepLabels", () => data.keepLabels(4, { seeds: 2 } as never), /did you mean "seed"/],
    ["Dataset.shuffled", () => data.shuffled(1, { engin: undefined } as never), /did you mean "engine"/],
    [
      "Dataset.signals",
      () => Dataset.signals([0, 1], [0], { channels: 1, lenght: 2 } as never),
      /Dataset\.signals: unknown option "lenght"; did you mean "length"\?/,
    ],
    ["softmax", () => softmax([1, 2], 2, { temprature: 2 } as never), /softmax: unknown option "temprature"; did you mean "temperature"/],
    ["logSoftmax", () => logSoftmax([1, 2], 2, { temp: 2 } as never), /logSoftmax: unknown option "temp"/],
    ["crossEntropy", () => crossEntropy([1, 2], [0], 2, { temperature: 2 } as never), /crossEntropy: unknown option "temperature"/],
    ["klDivergence", () => klDivergence([1, 2], [2, 1], 2, { temperture: 2 } as never), /did you mean "temperature"/],
    ["distillationLoss", () => distillationLoss([1, 2], [2, 1], [0], 2, { alhpa: 0.5 } as never), /did you mean "alpha"/],
    ["mseLoss", () => mseLoss([1, 2], [2, 1], { reducton: "sum" } as never), /did you mean "reduction"/],
    ["matmul", () => matmul([1], [1], 1, 1, 1, { transposeb: true } as never), /did you mean "transposeB"/],
    ["modelFromSafetensors", () => modelFromSafetensors(modelToSafetensors(mlp([2, 2])), { activaton: "tanh" } as never), /did you mean "activation"/],
  ];
  it.each(cases)("%s", (_name, call, message) => {
    let error: unknown;
    try {
      call();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OptionError);
    expect((error as Error).message).toMatch(message);
  });

  it("the loaders: loadMnistDigits, loadIdx and loadCsv", async () => {
    await expect(loadMnistDigits({ trian: 10 } as never)).rejects.toThrow(/loadMnistDigits: unknown option "trian"; did you mean "train"\?/);
    await expect(loadIdx("/nonexistent", { split: "train", normalise: true } as never)).rejects.toThrow(/did you mean "normalize"/);
    await expect(loadCsv("/nonexistent.csv", { labelColum: 0 } as never)).rejects.toThrow(/did you mean "labelColumn"/);
  });
});
