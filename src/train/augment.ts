/**
 * Input augmentation as a training-loop hook: random pixel shifts of square images and
 * Gaussian noise, drawn in wasm from a PRNG stream of their own, or a user function that
 * rewrites each batch in place.
 */
import { OptionError } from "../errors.js";
import { takesTokens } from "../nn/layers/index.js";
import type { Sequential } from "../nn/sequential.js";

/** Built-in augmentation of square images, or a function that rewrites a batch in place. */
export type Augment =
  | {
      /** Random translation by up to ±shift whole pixels (zero fill). */
      shift?: number;
      /** Standard deviation of Gaussian noise added to every value. */
      noise?: number;
      /** Image side (default √features). */
      side?: number;
    }
  | ((x: Float32Array, rows: number, features: number) => void);

export interface AugmentHook {
  /** Rewrites the batch (rows, features) at x in place. */
  apply: (x: number, rows: number) => void;
  /** The PRNG state it draws from (0 for a user function), for checkpoints. */
  rng: number;
}

/** Augmentation as a loop hook: built-in kernels, or the user's function on a view of the batch. */
export function augmentHook(model: Sequential, augment: Augment, features: number, seed: number, owned: number[]): AugmentHook {
  const e = model.engine;
  if (takesTokens(model.specs)) {
    throw new OptionError(
      `augment rewrites input values, but layer 0 (${model.specs[0]!.type}) reads token ids, which must stay ids in its vocabulary; leave augment out`,
    );
  }
  if (typeof augment === "function") return { rng: 0, apply: (x, rows) => augment(e.f32(x, rows * features), rows, features) };
  const shift = augment.shift ?? 0;
  const noise = augment.noise ?? 0;
  const side = augment.side ?? Math.round(Math.sqrt(features));
  if (!(Number.isInteger(shift) && shift >= 0)) throw new OptionError(`augment.shift must be an integer ≥ 0; got ${shift}`);
  if (!(noise >= 0 && Number.isFinite(noise))) throw new OptionError(`augment.noise must be a finite number ≥ 0; got ${noise}`);
  if (shift > 0 && side * side !== features) {
    throw new OptionError(`augment.shift needs square images: ${features} features is not side² (set augment.side)`);
  }
  const rng = e.allocOwned(16);
  owned.push(rng);
  e.kernels.rng_seed(rng, seed >>> 0, 0x61756720); // a stream of its own: "aug "
  let work = 0;
  const apply = (x: number, rows: number) => {
    const k = e.kernels;
    if (!work) {
      work = e.allocOwned(model.batchCapacity * features * 4);
      owned.push(work);
    }
    if (shift > 0) {
      k.augment_shift(work, x, rows, side, shift, rng);
      k.copy_bytes(x, work, rows * features * 4);
    }
    if (noise > 0) k.augment_noise(x, work, rows * features, noise, rng);
  };
  return { apply, rng };
}
