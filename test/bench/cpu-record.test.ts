/**
 * The CPU record of benchmark result files (bench/lib/cpu.ts): /proc/cpuinfo parsed on
 * fixed x86 and Arm texts, the per-machine folder key, and the lane-width bound of the
 * native comparison.
 */
import { describe, expect, it } from "vitest";
import { cpuKey, laneBound, nativeLanes, parseCpuinfo, SIMD_FLAGS } from "../../bench/lib/cpu.js";
import type { MachineInfo } from "../../bench/lib/machine.js";
import { machineKey, resultsFileName } from "../../bench/lib/results.js";

const EPYC = `processor	: 0
vendor_id	: AuthenticAMD
cpu family	: 26
model		: 2
model name	: AMD EPYC
stepping	: 1
flags		: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 avx512f avx512dq avx512bw avx512vl avx_vnni avx512_vnni avx512_bf16 sha_ni

processor	: 1
vendor_id	: GenuineIntel
cpu family	: 6
model		: 85
model name	: a second processor that must not be read
flags		: sse2
`;

const GRAVITON = `processor	: 0
BogoMIPS	: 243.75
Features	: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer	: 0x41
CPU architecture: 8
CPU variant	: 0x3
CPU part	: 0xd0c
CPU revision	: 1
`;

describe("parseCpuinfo", () => {
  it("reads the first processor's model name, vendor, family, model, stepping and SIMD flags (x86)", () => {
    expect(parseCpuinfo(EPYC)).toEqual({
      modelName: "AMD EPYC",
      vendor: "AuthenticAMD",
      family: 26,
      model: 2,
      stepping: 1,
      simdFlags: [
        "sse2",
        "ssse3",
        "sse4_1",
        "sse4_2",
        "avx",
        "f16c",
        "fma",
        "avx2",
        "avx_vnni",
        "avx512f",
        "avx512dq",
        "avx512bw",
        "avx512vl",
        "avx512_vnni",
        "avx512_bf16",
      ],
    });
  });

  it("keeps the flags in SIMD_FLAGS order and drops the others", () => {
    const record = parseCpuinfo("model name : X\nflags : avx2 sse2 popcnt fma\n")!;
    expect(record.simdFlags).toEqual(["sse2", "fma", "avx2"]);
    for (const f of record.simdFlags) expect(SIMD_FLAGS).toContain(f);
  });

  it("reads Arm's Features and hexadecimal part number when there is a model name", () => {
    expect(parseCpuinfo(GRAVITON)).toBeUndefined(); // no model name line: nothing to name the CPU by
    const record = parseCpuinfo(`Model name\t: Neoverse-N1\n${GRAVITON.slice(GRAVITON.indexOf("BogoMIPS"))}`)!;
    expect(record).toEqual({ modelName: "Neoverse-N1", vendor: "0x41", family: 8, model: 0xd0c, stepping: 1, simdFlags: ["asimd", "asimdhp", "asimddp"] });
  });

  it("gives undefined for text without a model name", () => {
    expect(parseCpuinfo("")).toBeUndefined();
    expect(parseCpuinfo("processor : 0\nflags : sse2\n")).toBeUndefined();
  });
});

describe("cpuKey and machineKey", () => {
  it("names the folder by the model name's words, then family and model", () => {
    expect(cpuKey(parseCpuinfo(EPYC)!)).toBe("amd-epyc-f26-m2");
    expect(cpuKey({ modelName: "Intel(R) Core(TM) i7-10700 CPU @ 2.90GHz", family: 6, model: 165 })).toBe("intel-r-core-tm-i7-10700-cpu-2-90ghz-f6-m165");
    expect(cpuKey({ modelName: "Apple M2" })).toBe("apple-m2");
    expect(cpuKey({ modelName: "  ***  " })).toBe("unknown-cpu");
  });

  it("keeps keys short: at most 48 characters of model name", () => {
    const key = cpuKey({ modelName: "a very long processor marketing name ".repeat(5), family: 1, model: 2 });
    expect(key.endsWith("-f1-m2")).toBe(true);
    expect(key.length).toBeLessThanOrEqual(48 + "-f1-m2".length);
    expect(key).not.toMatch(/--|-$|^-/);
  });

  const machine: MachineInfo = {
    runtime: "node",
    runtimeVersion: "20.20.2",
    cpu: "AMD EPYC",
    cores: 2,
    platform: "linux",
    arch: "x64",
    totalMemoryGiB: 8,
    date: new Date(2026, 11, 6, 12).toISOString(),
  };

  it("uses the CPU record when there is one, else the model name alone (a browser page)", () => {
    expect(machineKey({ ...machine, cpuRecord: parseCpuinfo(EPYC)! })).toBe("amd-epyc-f26-m2");
    expect(machineKey(machine)).toBe("amd-epyc");
  });

  it("names result files by runtime, variant and local date", () => {
    expect(resultsFileName(machine, "native-quick")).toBe("node-native-quick-2026-12-06.json");
    expect(resultsFileName(machine)).toBe("node-2026-12-06.json");
  });
});

describe("lane-width bound", () => {
  it("takes the widest f32 vector unit the flags allow", () => {
    expect(nativeLanes(parseCpuinfo(EPYC)!.simdFlags)).toEqual({ lanes: 16, unit: "AVX-512" });
    expect(nativeLanes(["sse2", "avx", "fma", "avx2"])).toEqual({ lanes: 8, unit: "AVX2" });
    expect(nativeLanes(["sse2", "sse4_2"])).toEqual({ lanes: 4, unit: "SSE" });
    expect(nativeLanes(["asimd"])).toEqual({ lanes: 4, unit: "NEON" });
  });

  it("is 4 wasm lanes over the native lanes", () => {
    expect(laneBound(8)).toBe(0.5);
    expect(laneBound(16)).toBe(0.25);
    expect(laneBound(4)).toBe(1);
  });
});
