/**
 * The body of a worker thread (its chunks are parts of GEMMs, convolutions, pooling and
 * optimizer steps), shipped as source text (`gemmWorkerSource`) so that a worker can be
 * started from a Blob URL (browsers, Deno, Bun) or `eval` (Node's worker_threads) without
 * a separate file to locate, fetch or bundle.
 *
 * `gemmWorkerMain` must stay self-contained: it is serialised with Function.prototype.toString,
 * so it may not refer to anything outside its own body.
 *
 * Protocol (the control block is described in thread-pool.ts):
 *   1. The owner posts { module, memory, control, scratch } once.
 *   2. The worker instantiates the kernel module on the shared memory, points its GEMM
 *      scratch at `scratch` (a block the owner allocated for it) and posts "ready".
 *   3. Forever: wait until control[SEQUENCE] changes (polling about a millisecond first,
 *      which covers the gaps between the products of a training step, then sleeping in
 *      Atomics.wait); return if control[STOP] is set; otherwise claim chunks of that round
 *      until none is left, run each, and count it in control[FINISHED].
 */

export function gemmWorkerMain(): void {
  // Must match thread-pool.ts.
  const SEQUENCE = 0;
  const STOP = 1;
  const CLAIM = 2;
  const FINISHED = 3;
  const FAILED = 4;
  const COUNT = 5;
  const CHUNK_BASE = 8;
  const CHUNK_WORDS = 20;
  const SPIN_CHECKS = 1_000_000; // about a millisecond of polling before sleeping

  type Kernel = (...args: number[]) => void;
  interface Setup {
    module: WebAssembly.Module;
    memory: WebAssembly.Memory;
    control: SharedArrayBuffer;
    scratch: number;
  }
  interface Port {
    post(message: unknown): void;
    onMessage(handler: (data: Setup) => void): void;
  }

  function hostPort(): Port {
    const web = globalThis as unknown as {
      postMessage?: (m: unknown) => void;
      addEventListener?: (type: string, h: (e: { data: Setup }) => void) => void;
    };
    // Node's eval workers are CommonJS scripts: `require` is in scope there and nowhere else.
    const nodeRequire = typeof require === "function" ? require : undefined;
    if (nodeRequire) {
      const { parentPort } = nodeRequire("node:worker_threads") as {
        parentPort: { postMessage(m: unknown): void; once(type: string, h: (d: Setup) => void): void } | null;
      };
      if (parentPort) {
        return { post: (m) => parentPort.postMessage(m), onMessage: (h) => parentPort.once("message", h) };
      }
    }
    return {
      post: (m) => web.postMessage!(m),
      onMessage: (h) => web.addEventListener!("message", (e) => h(e.data)),
    };
  }

  function serve(setup: Setup, port: Port): void {
    const control = new Int32Array(setup.control);
    const imports = {
      env: {
        memory: setup.memory,
        abort(): never {
          throw new Error("kernel assertion failed in a GEMM worker");
        },
      },
    };
    const exports = new WebAssembly.Instance(setup.module, imports).exports as Record<string, Kernel>;
    exports.scratch_use!(setup.scratch);
    const floats = new Float32Array(setup.control); // the same words, for f32 arguments
    const gemms = [exports.gemm_nn!, exports.gemm_nt!, exports.gemm_tn!];
    const panels = exports.gemm_panels!;
    const sgd = exports.sgd_step!;
    const adam = exports.adam_step!;
    const convForward = exports.conv2d_forward!;
    const convFilter = exports.conv2d_backward_filter!;
    const convData = exports.conv2d_backward_data!;
    const maxPools = [exports.maxpool2d_forward!, exports.maxpool2d_backward!];
    const avgPools = [exports.avgpool2d_forward!, exports.avgpool2d_backward!];

    /** Runs the chunk at control[at]: its form, then its arguments (thread-pool.ts lists them). */
    function runChunk(at: number): void {
      const w = control;
      const f = floats;
      const form = w[at]!;
      if (form <= 2) {
        gemms[form]!(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!,
          w[at + 8]!, w[at + 9]!, w[at + 10]!, w[at + 11]!);
      } else if (form === 3) {
        panels(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!, w[at + 10]!, w[at + 11]!);
      } else if (form === 4) {
        sgd(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, f[at + 5]!, f[at + 6]!, f[at + 7]!, w[at + 8]!);
      } else if (form === 5) {
        adam(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, f[at + 6]!, f[at + 7]!, f[at + 8]!, f[at + 9]!,
          f[at + 10]!, w[at + 11]!, w[at + 12]!);
      } else if (form === 6) {
        convForward(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!,
          w[at + 9]!, w[at + 10]!, w[at + 11]!, w[at + 12]!, w[at + 13]!, w[at + 14]!, w[at + 15]!);
      } else if (form === 7) {
        convFilter(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!,
          w[at + 9]!, w[at + 10]!, w[at + 11]!, w[at + 12]!, w[at + 13]!, w[at + 14]!, w[at + 15]!, w[at + 16]!,
          w[at + 17]!, w[at + 18]!);
      } else if (form === 8) {
        convData(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!,
          w[at + 9]!, w[at + 10]!, w[at + 11]!, w[at + 12]!, w[at + 13]!);
      } else if (form <= 10) {
        maxPools[form - 9]!(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!,
          w[at + 9]!, w[at + 10]!);
      } else {
        avgPools[form - 11]!(w[at + 1]!, w[at + 2]!, w[at + 3]!, w[at + 4]!, w[at + 5]!, w[at + 6]!, w[at + 7]!, w[at + 8]!,
          w[at + 9]!);
      }
    }

    let seen = Atomics.load(control, SEQUENCE);
    port.post("ready");
    for (;;) {
      let spins = 0;
      while (Atomics.load(control, SEQUENCE) === seen && spins < SPIN_CHECKS) spins++;
      Atomics.wait(control, SEQUENCE, seen);
      seen = Atomics.load(control, SEQUENCE);
      if (Atomics.load(control, STOP) !== 0) return;
      const round = (seen & 0x3fff) << 16;
      for (;;) {
        const claim = Atomics.load(control, CLAIM);
        if ((claim & ~0xffff) !== round) break; // a later round has begun: this one is done
        const index = claim & 0xffff;
        if (index >= Atomics.load(control, COUNT)) break;
        if (Atomics.compareExchange(control, CLAIM, claim, claim + 1) !== claim) continue;
        try {
          runChunk(CHUNK_BASE + index * CHUNK_WORDS);
        } catch {
          Atomics.store(control, FAILED, 1);
        }
        Atomics.add(control, FINISHED, 1);
        Atomics.notify(control, FINISHED); // the owner may be sleeping in join()
      }
    }
  }

  const port = hostPort();
  port.onMessage((setup) => serve(setup, port));
}

/** The worker's complete source: the function above, called. */
export function gemmWorkerSource(): string {
  return `(${gemmWorkerMain.toString()})();\n`;
}
