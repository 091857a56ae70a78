// A fixed, seeded sequence of kernel calls that touches every kernel family: PRNG
// initialisation, a few distillation steps of a small MLP (GEMM forms with bias and
// fused ReLU, dropout, the fused loss, bias gradients, gradient clipping, SGD and Adam),
// softmax / log-softmax, activations and a permutation. It returns a SHA-256 over all
// resulting bytes. Plain JavaScript so that a fresh `node` process can run it as is.
import { createHash } from "node:crypto";

const GEMM_RELU = 2;

/**
 * @param {import("../../src/engine.js").Engine} engine
 * @returns {string} hex SHA-256 of every output
 */
export function kernelSequenceChecksum(engine) {
  const k = engine.kernels;
  const hash = createHash("sha256");
  const take = (ptr, bytes) => hash.update(new Uint8Array(k.memory.buffer, ptr, bytes));
  return engine.scoped(() => {
    const [batch, input, hidden, classes] = [37, 29, 21, 10];
    const rng = engine.alloc(16);
    k.rng_seed(rng, 20241128, 7);

    // Data and teacher logits, drawn from the PRNG.
    const x = engine.allocF32(batch * input);
    const teacher = engine.allocF32(batch * classes);
    const labels = engine.alloc(batch * 4);
    k.rng_normal(rng, x, batch * input, 0, 1);
    k.rng_uniform(rng, teacher, batch * classes, -4, 4);
    const lab = engine.i32(labels, batch);
    for (let i = 0; i < batch; i++) lab[i] = k.rng_below(rng, classes);

    // Student: w1 (hidden, input), b1 (hidden), w2 (classes, hidden), b2 (classes).
    const sizes = [hidden * input, hidden, classes * hidden, classes];
    const params = sizes.map((n) => engine.allocF32(n));
    const grads = sizes.map((n) => engine.allocF32(n));
    const state = sizes.map((n) => [engine.allocF32(n), engine.allocF32(n)]);
    params.forEach((p, i) => k.rng_normal(rng, p, sizes[i], 0, 0.3));
    state.flat().forEach((s, i) => engine.f32(s, sizes[i >> 1]).fill(0));
    const gradList = engine.alloc(8 * grads.length);
    const list = new Uint32Array(k.memory.buffer, gradList, 2 * grads.length);
    grads.forEach((g, i) => list.set([g, sizes[i]], 2 * i));

    const h = engine.allocF32(batch * hidden);
    const hd = engine.allocF32(batch * hidden);
    const mask = engine.allocF32(batch * hidden);
    const logits = engine.allocF32(batch * classes);
    const dlogits = engine.allocF32(batch * classes);
    const dh = engine.allocF32(batch * hidden);
    const out = engine.alloc(24);

    for (let step = 1; step <= 6; step++) {
      k.gemm_nt(h, x, params[0], params[1], batch, hidden, input, input, input, hidden, GEMM_RELU);
      k.rng_dropout_mask(rng, mask, batch * hidden, 0.25);
      k.dropout_forward(hd, h, mask, batch * hidden);
      k.gemm_nt(logits, hd, params[2], params[3], batch, classes, hidden, hidden, hidden, classes, 0);
      k.distill_loss(out, dlogits, logits, teacher, labels, batch, classes, 4, 0.3);
      take(out, 24);
      k.gemm_tn(grads[2], dlogits, hd, 0, classes, hidden, batch, classes, hidden, hidden, 0);
      k.bias_grad(grads[3], dlogits, batch, classes, 0);
      k.gemm_nn(dh, dlogits, params[2], 0, batch, hidden, classes, classes, hidden, hidden, 0);
      k.dropout_backward(dh, dh, mask, batch * hidden);
      k.relu_backward(dh, dh, h, batch * hidden);
      k.gemm_tn(grads[0], dh, x, 0, hidden, input, batch, hidden, input, input, 0);
      k.bias_grad(grads[1], dh, batch, hidden, 0);
      k.clip_grad_norm(gradList, grads.length, 1.0);
      params.forEach((p, i) => {
        if (step % 2) k.sgd_step(p, grads[i], state[i][0], sizes[i], 0.05, 0.9, 1e-4, 1);
        else k.adam_step(p, grads[i], state[i][0], state[i][1], sizes[i], 1e-3, 0.9, 0.999, 1e-8, 0.01, step >> 1, 1);
      });
    }
    params.forEach((p, i) => take(p, sizes[i] * 4));

    // The remaining kernels, on the trained logits.
    const y = engine.allocF32(batch * classes);
    k.softmax_forward(y, logits, batch, classes, 2.5);
    take(y, batch * classes * 4);
    k.log_softmax_forward(y, logits, batch, classes, 0.5);
    take(y, batch * classes * 4);
    for (const f of ["tanh_forward", "sigmoid_forward", "gelu_forward", "exp_forward"]) {
      k[f](y, logits, batch * classes);
      take(y, batch * classes * 4);
    }
    const perm = engine.alloc(4 * 100);
    k.rng_permutation(rng, perm, 100);
    take(perm, 400);
    take(rng, 16);
    return hash.digest("hex");
  });
}
