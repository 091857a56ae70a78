/**
 * The body of a GEMM worker thread, shipped as source text (`gemmWorkerSource`) so that
 * a worker can be started from a Blob URL (browsers, Deno, Bun) or `eval` (Node's
 * worker_threads) without a separate file to locate, fetch or bundle.
 *
 * `gemmWorkerMain` must stay self-contained: it is serialised with Function.prototype.toString,
 * so it may not refer to anything outside its own body.
 *
 * Protocol (the control block is an Int32Array over a SharedArrayBuffer; see thread-pool.ts):
 * Forms: 0 gemm_nn, 1 gemm_nt, 2 gemm_tn, 3 gemm_panels (its B is the panels; ldb unused).
 *
 *   1. The owner posts { module, memory, control, slot, scratch } once.
 *   2. The worker instantiates the kernel module on the shared memory, points its GEMM
 *      scratch at `scratch` (a block the owner allocated for it) and posts "ready".
 *   3. Forever: wait until control[SEQUENCE] changes; if control[STOP] is set, return;
 *      otherwise run the GEMM described in its slot and store the sequence number in the
 *      slot's DONE word (or set its FAILED word if the call threw).
 */

export function gemmWorkerMain(): void {
  // Must match thread-pool.ts.
  const SEQUENCE = 0;
  const STOP = 1;
  const SLOT_BASE = 16;
  const SLOT_WORDS = 16;
  const FORM = 0;
  const ARGS = 1; // c, a, b, bias, m, n, k, lda, ldb, ldc, flags
  const DONE = 12;
  const FAILED = 13;
  const SPIN_CHECKS = 20000; // ~0.1 ms of polling before sleeping in Atomics.wait

  type Gemm = (...args: number[]) => void;
  interface Setup {
    module: WebAssembly.Module;
    memory: WebAssembly.Memory;
    control: SharedArrayBuffer;
    slot: number;
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
    const exports = new WebAssembly.Instance(setup.module, imports).exports as Record<string, Gemm>;
    exports.scratch_use!(setup.scratch);
    const forms = [exports.gemm_nn!, exports.gemm_nt!, exports.gemm_tn!];
    const panels = exports.gemm_panels!; // form 3: (c, a, panels, bias, m, n, k, lda, ldc, flags)
    const slot = SLOT_BASE + setup.slot * SLOT_WORDS;
    const args: number[] = new Array(11).fill(0);
    let seen = Atomics.load(control, SEQUENCE);
    port.post("ready");
    for (;;) {
      let spins = 0;
      while (Atomics.load(control, SEQUENCE) === seen && spins < SPIN_CHECKS) spins++;
      Atomics.wait(control, SEQUENCE, seen);
      seen = Atomics.load(control, SEQUENCE);
      if (Atomics.load(control, STOP) !== 0) return;
      const form = Atomics.load(control, slot + FORM);
      if (form >= 0) {
        for (let i = 0; i < 11; i++) args[i] = Atomics.load(control, slot + ARGS + i);
        try {
          if (form === 3) panels(args[0]!, args[1]!, args[2]!, args[3]!, args[4]!, args[5]!, args[6]!, args[7]!, args[9]!, args[10]!);
          else forms[form]!(...args);
        } catch {
          Atomics.store(control, slot + FAILED, 1);
        }
      }
      Atomics.store(control, slot + DONE, seen);
      Atomics.notify(control, slot + DONE); // the owner may be sleeping in join()
    }
  }

  const port = hostPort();
  port.onMessage((setup) => serve(setup, port));
}

/** The worker's complete source: the function above, called. */
export function gemmWorkerSource(): string {
  return `(${gemmWorkerMain.toString()})();\n`;
}
