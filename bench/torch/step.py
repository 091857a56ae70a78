"""PyTorch (CPU) timings of the benchmark's networks, for bench/suites/native.ts.

Reads a JSON spec on stdin (bench/lib/torch.ts, torchSpec) and prints one JSON object per
line on stdout:

  {"type": "env", ...}       torch and numpy versions, threads, the BLAS library loaded
                             (and OpenBLAS's kernel), torch's CPU capability
  {"type": "row", ...}       one scenario: its id, the first two steps' losses (training)
                             or the first rows' logits (inference), and every timed call in ms
  {"type": "skip", ...}      torch cannot be imported: the reason (nothing else is printed)

Weights and batches are drawn from the same mulberry32 streams as bench/lib/native-params.ts
and bench/lib/mlp.ts (makeBatch), so the suite can check that the first losses and logits
agree with distill-wasm's before it reports a ratio.

Threads: the caller sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS for this process, and the
spec's "threads" goes to torch.set_num_threads. The BLAS is whatever libblas.so.3 the
dynamic loader finds (the caller puts a directory on LD_LIBRARY_PATH); this script reports
the one it got.

Run by hand: echo '{"threads": 1, ...}' | /usr/bin/python3 bench/torch/step.py
"""

import json
import math
import sys
import time


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except Exception as e:  # ImportError, or a broken install raising something else
    emit({"type": "skip", "reason": f"cannot import torch and numpy in {sys.executable}: {type(e).__name__}: {e}"})
    sys.exit(0)

M32 = 0xFFFFFFFF


def mulberry32(seed, n):
    """The first n outputs of bench/lib/random.ts's mulberry32(seed), as float64 in [0, 1)."""
    k = np.arange(1, n + 1, dtype=np.uint64)
    s = (np.uint64(seed & M32) + k * np.uint64(0x6D2B79F5)) & np.uint64(M32)

    def imul(a, b):
        return (a * b) & np.uint64(M32)

    t = s
    t = imul(t ^ (t >> np.uint64(15)), t | np.uint64(1))
    t = t ^ ((t + imul(t ^ (t >> np.uint64(7)), t | np.uint64(61))) & np.uint64(M32))
    return (t ^ (t >> np.uint64(14))).astype(np.float64) / 4294967296.0


def seeded_params(widths, seed):
    """bench/lib/native-params.ts seededParams: layer i from mulberry32(seed + 7919·(i+1)),
    weights (out, in) then biases, uniform in ±1/sqrt(in), rounded once to float32."""
    layers = []
    for i in range(len(widths) - 1):
        fan_in, fan_out = widths[i], widths[i + 1]
        bound = 1.0 / math.sqrt(fan_in)
        u = mulberry32(seed + 7919 * (i + 1), fan_out * fan_in + fan_out)
        v = ((u * 2.0 - 1.0) * bound).astype(np.float32)
        layers.append((v[: fan_out * fan_in].reshape(fan_out, fan_in), v[fan_out * fan_in :]))
    return layers


def make_batch(rows, features, classes, seed):
    """bench/lib/mlp.ts makeBatch: x in [0, 1), then the labels, then teacher logits in [-4, 4)."""
    u = mulberry32(seed, rows * features + rows + rows * classes)
    x = u[: rows * features].astype(np.float32).reshape(rows, features)
    y = np.minimum(classes - 1, np.floor(u[rows * features : rows * features + rows] * classes)).astype(np.int64)
    t = (u[rows * features + rows :] * 8.0 - 4.0).astype(np.float32).reshape(rows, classes)
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(t)


def mlp(widths, seed):
    layers = []
    for i, (w, b) in enumerate(seeded_params(widths, seed)):
        linear = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w))
            linear.bias.copy_(torch.from_numpy(b))
        layers.append(linear)
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def distill_loss(s, t, y, temperature, alpha):
    """α·CE(labels) + (1 − α)·T²·KL(softmax(t/T) ‖ softmax(s/T)), KL averaged over rows."""
    hard = F.cross_entropy(s, y)
    soft = F.kl_div(F.log_softmax(s / temperature, dim=1), F.log_softmax(t / temperature, dim=1), reduction="batchmean", log_target=True)
    return alpha * hard + (1.0 - alpha) * temperature * temperature * soft


def scenario_call(sc, spec):
    """The function one timed call runs, and what it returns for the agreement check."""
    widths = sc["widths"]
    x, y, cached = make_batch(sc["batch"], widths[0], widths[-1], sc["batchSeed"])
    model = mlp(widths, sc["seed"])
    kind = sc["kind"]
    if kind == "infer":
        model.eval()

        def infer():
            with torch.inference_mode():
                return model(x)

        return infer

    opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec["momentum"])
    temperature, alpha = spec["temperature"], spec["alpha"]
    teacher = mlp(sc["teacherWidths"], sc["teacherSeed"]) if kind == "distill-teacher" else None

    def train_step():
        opt.zero_grad(set_to_none=True)
        s = model(x)
        if kind == "ce":
            loss = F.cross_entropy(s, y)
        elif kind == "distill":
            loss = distill_loss(s, cached, y, temperature, alpha)
        else:
            with torch.no_grad():
                t = teacher(x)
            loss = distill_loss(s, t, y, temperature, alpha)
        loss.backward()
        opt.step()
        return loss.item()

    return train_step


def budget_for(first_ms, quick):
    """(warm-up calls, least timed calls, least timed ms): bench/lib/timing.ts's budgetFor."""
    if quick:
        return 1, 3, 0.0
    if first_ms < 8:
        return 5, 20, 500.0
    if first_ms < 120:
        return 2, 8, 600.0
    if first_ms < 1000:
        return 1, 4, 0.0
    return 0, 3, 0.0


def run_scenario(sc, spec):
    call = scenario_call(sc, spec)
    row = {"type": "row", "id": sc["id"]}
    if sc["kind"] == "infer":
        out = call()
        row["logits"] = [float(v) for v in out[: min(4, out.shape[0])].reshape(-1).tolist()]
        first_ms = None
    else:
        t0 = time.perf_counter()
        first = call()
        first_ms = (time.perf_counter() - t0) * 1000.0
        row["losses"] = [first, call()]
    if first_ms is None:
        t0 = time.perf_counter()
        call()
        first_ms = (time.perf_counter() - t0) * 1000.0
    warmup, least_calls, least_ms = budget_for(first_ms, spec.get("quick", False))
    for _ in range(warmup):
        call()
    samples = []
    started = time.perf_counter()
    while len(samples) < least_calls or (time.perf_counter() - started) * 1000.0 < least_ms:
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000.0)
    row["samplesMs"] = samples
    emit(row)


def loaded_blas():
    """The libblas / libopenblas files mapped into this process, and OpenBLAS's kernel name
    when the BLAS that provides sgemm_ is OpenBLAS."""
    import ctypes

    with open("/proc/self/maps") as maps:
        files = sorted({line.split()[-1] for line in maps if "blas" in line.split()[-1].rsplit("/", 1)[-1]})
    blas = next((f for f in files if f.rsplit("/", 1)[-1].startswith("libblas")), None)
    blas = blas or next((f for f in files if "openblas" in f.rsplit("/", 1)[-1]), None)
    core = config = None
    if blas is not None:
        try:
            lib = ctypes.CDLL(blas)
            get_core, get_config = lib.openblas_get_corename, lib.openblas_get_config
            get_core.restype = get_config.restype = ctypes.c_char_p
            core, config = get_core().decode(), get_config().decode()
        except (OSError, AttributeError):
            pass  # not OpenBLAS (the reference BLAS has no openblas_get_corename)
    return blas, core, config


def cpu_capability():
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return None


def main():
    spec = json.load(sys.stdin)
    torch.set_num_threads(spec["threads"])
    blas, core, config = loaded_blas()
    emit(
        {
            "type": "env",
            "torch": torch.__version__,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
            "threads": torch.get_num_threads(),
            "blas": blas,
            "openblasCore": core,
            "openblasConfig": config,
            "cpuCapability": cpu_capability(),
        }
    )
    for sc in spec["scenarios"]:
        run_scenario(sc, spec)


if __name__ == "__main__":
    main()
