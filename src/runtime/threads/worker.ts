/**
 * The body of a worker thread (its chunks are parts of GEMMs, convolutions, pooling and
 * optimizer steps), shipped as source text (`workerSource`) so that a worker can be started
 * from a Blob URL (browsers, Deno, Bun) or `eval` (Node's worker_threads) without a separate
 * file to locate, fetch or bundle.
 *
 * `workerMain` and the `chunkCaller` it is given must stay self-contained: both are
 * serialised with Function.prototype.toString, so they may not refer to anything outside
 * their own bodies. The protocol's numbers are not copied here: they arrive in the start
 * message (WORKER_PROTOCOL, derived from the table in protocol.ts).
 *
 * Protocol:
 *   1. The owner posts { module, memory, control, scratch, protocol, plan } once.
 *   2. The worker instantiates the kernel module on the shared memory, points its GEMM
 *      scratch at `scratch` (a block the owner allocated for it), sets the engine's GEMM
 *      plan (`plan`: gemm_plan_set's arguments per slot), builds a runner for every
 *      kind of chunk in `protocol.kinds` with chunkCaller, and posts "ready".
 *   3. Forever: wait until control[SEQUENCE] changes (polling about a millisecond first,
 *      which covers the gaps between the calls of a training step, then sleeping in
 *      Atomics.wait); return if control[STOP] is set; otherwise claim chunks of that round
 *      until none is left, run each by its form, and count it in control[FINISHED] (a call
 *      that throws sets control[FAILED] to 1 + its form, so the owner can name the kernel).
 */
import { chunkCaller, type WorkerProtocol } from "./protocol.js";

export function workerMain(caller: typeof chunkCaller): void {
  const SPIN_CHECKS = 1_000_000; // about a millisecond of polling before sleeping

  type Kernel = (...args: (number | undefined)[]) => unknown;
  interface Setup {
    module: WebAssembly.Module;
    memory: WebAssembly.Memory;
    control: SharedArrayBuffer;
    scratch: number;
    protocol: WorkerProtocol;
    plan: [number, number, number][];
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
    const { SEQUENCE, STOP, CLAIM, FINISHED, FAILED, COUNT, CHUNK_BASE } = setup.protocol.control;
    const CHUNK_WORDS = setup.protocol.chunkWords;
    const control = new Int32Array(setup.control);
    const floats = new Float32Array(setup.control); // the same words, for f32 arguments
    const imports = {
      env: {
        memory: setup.memory,
        abort(): never {
          throw new Error("kernel assertion failed in a worker thread");
        },
      },
    };
    const exports = new WebAssembly.Instance(setup.module, imports).exports as Record<string, Kernel>;
    exports.scratch_use!(setup.scratch);
    for (const [form, shapeClass, candidate] of setup.plan) {
      if (exports.gemm_plan_set!(form, shapeClass, candidate) !== 1) throw new Error("a worker thread could not set the GEMM plan");
    }
    const runners = setup.protocol.kinds.map((kind) => caller(exports[kind.kernel]!, kind.arity, kind.floats, control, floats));

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
        const at = CHUNK_BASE + index * CHUNK_WORDS;
        const form = control[at]!;
        try {
          runners[form]!(at);
        } catch {
          Atomics.compareExchange(control, FAILED, 0, 1 + form);
        }
        Atomics.add(control, FINISHED, 1);
        Atomics.notify(control, FINISHED); // the owner may be sleeping in join()
      }
    }
  }

  const port = hostPort();
  port.onMessage((setup) => serve(setup, port));
}

/** The worker's complete source: the function above, called with chunkCaller. */
export function workerSource(): string {
  return `(${workerMain.toString()})(${chunkCaller.toString()});\n`;
}
