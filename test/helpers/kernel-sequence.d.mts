import type { Engine } from "../../src/engine.js";
export declare function kernelSequenceChecksum(engine: Engine): string;
