/**
 * Cold start of a service that only predicts: from `import("distill-wasm/infer")` to the
 * first class id of a ReLU MLP read from a model file — 784-800-800-10 (5.1 MB of float32
 * weights) and the demo's student size, 784-32-10 (0.1 MB) — in fresh Node processes, beside
 * the same path through the full library (`import("distill-wasm")`, `init()`, `loadModel`,
 * `predict`).
 *
 *   npm run bench:infer [-- --runs N]
 *
 * Each run is a new `node` process running a module file (nothing compiled or cached before
 * it); the times are taken inside it with performance.now() from its first line: import, load (read the file, compile and
 * instantiate the kernels, copy the weights in and check them), first predict (one row, on
 * the weights as they are: the panels for small batches are packed on the second call). Prints
 * the median of each over the runs, and of the process's CPU time over the same span
 * (process.cpuUsage(), every thread): on a shared machine the wall-clock times grow with the
 * load, the CPU time much less.
 *
 * A cold start writes three fresh blocks of the model's size (the file's bytes, the weights
 * in wasm memory, their panels), and the first write to fresh memory costs a page fault per
 * 4 KiB, whose price differs a lot between machines (virtual machines pay several times
 * more): the last line measures it here, for 5 MB.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { init, mlp, saveModel } from "distill-wasm";
import { PROJECT_ROOT } from "./lib/paths.js";
import { quantile } from "./lib/stats.js";

const MODELS = [
  [784, 800, 800, 10],
  [784, 32, 10],
];
const runsFlag = process.argv.indexOf("--runs");
const RUNS = runsFlag >= 0 ? Number(process.argv[runsFlag + 1]) : 15;

/** The child's script: the phases' times in ms and the class id, as one line of JSON. */
const CPU = "const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };";
const CHILD = {
  infer: `${CPU}
    const c0 = cpu(), t0 = performance.now();
    const { loadStudent } = await import("distill-wasm/infer");
    const t1 = performance.now();
    const student = await loadStudent(process.env.MODEL);
    const t2 = performance.now();
    const [digit] = student.predict(new Float32Array(784).fill(0.5), 1);
    const t3 = performance.now(), c3 = cpu();
    console.log(JSON.stringify({ import: t1 - t0, load: t2 - t1, predict: t3 - t2, total: t3 - t0, cpu: c3 - c0, digit }));`,
  full: `${CPU}
    const c0 = cpu(), t0 = performance.now();
    const { init, loadModel } = await import("distill-wasm");
    const t1 = performance.now();
    await init();
    const model = await loadModel(process.env.MODEL);
    const t2 = performance.now();
    const [digit] = model.predict(new Float32Array(784).fill(0.5));
    const t3 = performance.now(), c3 = cpu();
    console.log(JSON.stringify({ import: t1 - t0, load: t2 - t1, predict: t3 - t2, total: t3 - t0, cpu: c3 - c0, digit }));`,
};

/** Wall-clock ms of each phase and of the whole, the process's CPU ms over the same span (every thread: compile, GC), the class id. */
type Phases = { import: number; load: number; predict: number; total: number; cpu: number; digit: number };

/** First and second write of 5 MB (the model's size) to a new buffer, in a fresh process (ms). */
const FRESH_MEMORY = `
  const bytes = new Uint8Array(5_108_072).fill(1);
  const out = new Uint8Array(bytes.length);
  const t0 = performance.now(); out.set(bytes);
  const t1 = performance.now(); out.set(bytes);
  console.log(JSON.stringify({ first: t1 - t0, second: performance.now() - t1 }));`;

/**
 * The child scripts as module files beside this one (inside the package, where "distill-wasm"
 * names it), run as `node file.mjs`: as in a service, Node's module loader is up before the
 * service's code runs, and the clock starts at that code's first line. (Run with `-e`, the
 * first import would also pay for starting the loader: 8–10 ms more here.)
 */
const CHILD_FILES = Object.fromEntries(
  Object.entries(CHILD).map(([name, script]) => {
    const file = fileURLToPath(new URL(`./cold-start-${name}.mjs`, import.meta.url));
    writeFileSync(file, script);
    return [name, file];
  }),
);

/** One fresh process. */
function run(file: string, model: string): Phases {
  const out = execFileSync(process.execPath, [file], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, MODEL: model },
    encoding: "utf8",
  });
  return JSON.parse(out.trim().split("\n").pop()!) as Phases;
}

const dir = mkdtempSync(path.join(tmpdir(), "distill-bench-infer-"));
try {
  const engine = await init();
  console.log(`import → first prediction of an MLP read from a model file, median of ${RUNS} fresh node ${process.versions.node} processes (ms)\n`);
  console.log("| model | entry point | import | load | first predict | total | CPU time |");
  console.log("|---|---|---:|---:|---:|---:|---:|");
  for (const widths of MODELS) {
    const file = path.join(dir, `${widths.join("-")}.safetensors`);
    const model = mlp(widths, { seed: 1, engine });
    await saveModel(model, file);
    const expected = model.predict(new Float32Array(784).fill(0.5))[0];
    model.dispose();
    for (const [name, script] of Object.entries(CHILD_FILES)) {
      run(script, file); // the file in the page cache, as for every later run
      const runs = Array.from({ length: RUNS }, () => run(script, file));
      if (runs.some((r) => r.digit !== expected)) throw new Error(`${name}: a run predicted another class than the library (${expected})`);
      const median = (key: keyof Phases) =>
        quantile(
          runs.map((r) => r[key]).sort((a, b) => a - b),
          0.5,
        ).toFixed(1);
      const label = name === "infer" ? '`import("distill-wasm/infer")`, `loadStudent`' : '`import("distill-wasm")`, `init`, `loadModel`';
      console.log(
        `| ${widths.join("-")} | ${label} | ${median("import")} | ${median("load")} | ${median("predict")} | **${median("total")}** | ${median("cpu")} |`,
      );
    }
  }
  const touches = Array.from(
    { length: RUNS },
    () => JSON.parse(execFileSync(process.execPath, ["-e", FRESH_MEMORY], { encoding: "utf8" })) as { first: number; second: number },
  );
  const med = (key: "first" | "second") =>
    quantile(
      touches.map((t) => t[key]).sort((a, b) => a - b),
      0.5,
    ).toFixed(1);
  console.log(
    `\nthis machine: writing 5 MB to fresh memory takes ${med("first")} ms the first time, ${med("second")} ms the second (median of ${RUNS} processes)`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
