/**
 * The PyTorch comparator's pure parts (bench/lib/torch.ts): the driver's line protocol,
 * the BLAS libraries chosen from the environment and the file system, and the row names.
 */
import { describe, expect, it } from "vitest";
import { blasLabel, blasVariants, ldLibraryPath, openblasLanes, parseTorchOutput, TorchOutputError, type TorchEnv } from "../../bench/lib/torch.js";

const ENV: TorchEnv = {
  torch: "1.13.0a0",
  numpy: "1.24.2",
  python: "3.11.2",
  threads: 1,
  blas: "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3",
  openblasCore: "Haswell",
  openblasConfig: "OpenBLAS 0.3.21 DYNAMIC_ARCH USE_OPENMP Haswell MAX_THREADS=64",
  cpuCapability: "AVX2",
};
const envLine = JSON.stringify({ type: "env", ...ENV });
const row = (id: string, extra: Record<string, unknown>) => JSON.stringify({ type: "row", id, samplesMs: [2.5, 2, 3], ...extra });
const IDS = ["distillation", "inference, batch 1"];

describe("parseTorchOutput", () => {
  it("returns the env line and one row per scenario, in the spec's order", () => {
    const out = ["a warning torch printed", envLine, row("inference, batch 1", { logits: [0.5, -1] }), row("distillation", { losses: [2.25, 2.125] }), ""].join(
      "\n",
    );
    expect(parseTorchOutput(out, IDS)).toEqual({
      env: ENV,
      rows: [
        { id: "distillation", samplesMs: [2.5, 2, 3], losses: [2.25, 2.125] },
        { id: "inference, batch 1", samplesMs: [2.5, 2, 3], logits: [0.5, -1] },
      ],
    });
  });

  it("returns the reason of a skip line", () => {
    expect(parseTorchOutput('{"type": "skip", "reason": "cannot import torch and numpy in /usr/bin/python3: ModuleNotFoundError"}\n', IDS)).toEqual({
      skipped: "cannot import torch and numpy in /usr/bin/python3: ModuleNotFoundError",
    });
  });

  const bad: [string, string, RegExp][] = [
    ["a line that is not JSON", `${envLine}\n{"type": "row",`, /line 2 .* is not JSON/],
    ["no env line", row("distillation", { losses: [1, 1] }), /no "env" line/],
    ["a missing scenario", `${envLine}\n${row("distillation", { losses: [1, 1] })}`, /no row for inference, batch 1/],
    ["an unknown scenario", `${envLine}\n${row("teacher", { losses: [1, 1] })}`, /unknown scenario "teacher"/],
    [
      "a repeated scenario",
      `${envLine}\n${row("distillation", { losses: [1, 1] })}\n${row("distillation", { losses: [1, 1] })}`,
      /second row of scenario distillation/,
    ],
    ["empty samples", `${envLine}\n${JSON.stringify({ type: "row", id: "distillation", samplesMs: [], losses: [1, 1] })}`, /non-empty array/],
    ["a NaN loss (JSON null)", `${envLine}\n${row("distillation", { losses: [1, null] })}`, /two finite numbers/],
    ["three losses", `${envLine}\n${row("distillation", { losses: [1, 1, 1] })}`, /two finite numbers/],
    ["a row with nothing to check", `${envLine}\n${row("distillation", {})}`, /neither losses nor logits/],
    ["an unknown line type", `${envLine}\n{"type": "progress"}`, /unknown line type "progress"/],
    ["an env line without versions", '{"type": "env", "threads": 1}', /needs torch, numpy, python/],
    ["a skip line without reason", '{"type": "skip"}', /needs a reason/],
  ];
  for (const [what, text, message] of bad) {
    it(`throws a TorchOutputError on ${what}`, () => {
      expect(() => parseTorchOutput(text, IDS)).toThrow(TorchOutputError);
      expect(() => parseTorchOutput(text, IDS)).toThrow(message);
    });
  }
});

describe("blasVariants", () => {
  const T = "x86_64-linux-gnu";
  const filesIn = (...dirs: string[]) => {
    const files = new Set(dirs.map((d) => `${d}/libblas.so.3`));
    return (f: string) => files.has(f);
  };

  it("takes Debian's reference BLAS and the directory DISTILL_BENCH_OPENBLAS names", () => {
    const r = blasVariants({
      triplet: T,
      openblasDir: "/opt/openblas/",
      exists: filesIn(`/usr/lib/${T}/blas`, "/opt/openblas", `/usr/lib/${T}/openblas-pthread`),
    });
    expect(r.variants).toEqual([
      { requested: "reference BLAS", libraryDir: `/usr/lib/${T}/blas` },
      { requested: "OpenBLAS", libraryDir: "/opt/openblas" },
    ]);
    expect(r.notes).toEqual([]);
  });

  it("falls back to the system's OpenBLAS (openmp first) with a note when the named directory has no libblas.so.3", () => {
    const r = blasVariants({ triplet: T, openblasDir: "/nowhere", exists: filesIn(`/usr/lib/${T}/openblas-openmp`, `/usr/lib/${T}/openblas-pthread`) });
    expect(r.variants).toEqual([{ requested: "OpenBLAS", libraryDir: `/usr/lib/${T}/openblas-openmp` }]);
    expect(r.notes.join("\n")).toMatch(/no reference BLAS row: .*libblas3/);
    expect(r.notes.join("\n")).toMatch(/DISTILL_BENCH_OPENBLAS=\/nowhere holds no libblas\.so\.3/);
  });

  it("runs once with the loader's default, saying why, when no BLAS directory is found", () => {
    const r = blasVariants({ triplet: T, exists: () => false });
    expect(r.variants).toEqual([{ requested: "default BLAS" }]);
    expect(r.notes).toHaveLength(2);
    expect(r.notes[1]).toMatch(/set DISTILL_BENCH_OPENBLAS/);
    expect(blasVariants({ exists: () => true }).variants).toEqual([{ requested: "default BLAS" }]); // not a Debian multiarch system
  });

  it("puts the chosen directory first on LD_LIBRARY_PATH", () => {
    expect(ldLibraryPath("/a", undefined)).toBe("/a");
    expect(ldLibraryPath("/a", "/b:/c")).toBe("/a:/b:/c");
  });
});

describe("row names and lanes", () => {
  it("names the row after the library the process mapped", () => {
    expect(blasLabel(ENV)).toBe("OpenBLAS (Haswell kernels)");
    expect(blasLabel({ ...ENV, openblasCore: null, blas: "/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0" })).toBe("reference BLAS");
    expect(blasLabel({ ...ENV, openblasCore: null, blas: "/opt/blis/libblis.so" })).toBe("libblis.so");
    expect(blasLabel({ ...ENV, openblasCore: null, blas: null })).toBe("no BLAS library mapped");
  });

  it("knows the vector width of OpenBLAS's x86 kernel sets", () => {
    expect(openblasLanes("Haswell")).toBe(8);
    expect(openblasLanes("Zen")).toBe(8);
    expect(openblasLanes("SkylakeX")).toBe(16);
    expect(openblasLanes("Prescott")).toBe(4);
    expect(openblasLanes("NeoverseN1")).toBe(4);
    expect(openblasLanes("SomethingNew")).toBeUndefined();
    expect(openblasLanes(null)).toBeUndefined();
  });
});
