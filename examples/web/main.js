// The demo page: starts the training worker, draws its progress live, then lets you draw a
// digit and shows the teacher's and the distilled student's probabilities and speed.
import { drawChart } from "./chart.js";
import { SIDE, toMnist } from "./preprocess.js";

const COLORS = { teacher: "#364fc7", scratch: "#e8590c", student: "#2b8a3e" };
const $ = (selector) => document.querySelector(selector);
const body = document.body;

const state = {
  plan: [],
  history: { teacher: [], scratch: [], student: [] },
  epochsDone: 0,
  epochsTotal: 1,
  results: null,
  nextId: 1,
  pending: null, // pixels waiting for the worker
  busy: false,
};

// ---------------------------------------------------------------- training

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
worker.onmessage = (event) => handlers[event.data.type]?.(event.data);
for (const button of document.querySelectorAll(".downloads button")) {
  button.addEventListener("click", () => worker.postMessage({ type: "export", format: button.dataset.format }));
}
worker.onerror = (event) => fail(event.message || "the worker failed to start (is dist/ built? run `npm run build`)");

const handlers = {
  plan({ models }) {
    state.plan = models;
    state.epochsTotal = models.reduce((sum, m) => sum + m.epochs, 0);
    body.dataset.state = "training";
    $("#legend").replaceChildren(
      ...models.map((m) => legendKey(COLORS[m.id], `${m.name} · ${m.architecture}`)),
      legendKey("#5c6470", "test data", false, "style"),
      legendKey("#5c6470", "training data", true, "style"),
    );
    const rows = models.map((m) => {
      const tr = document.createElement("tr");
      tr.dataset.model = m.id;
      tr.innerHTML =
        `<td class="text name"><span class="dot" style="background:${COLORS[m.id]}"></span>${m.name}</td>` +
        `<td class="text">${m.architecture}</td><td class="params"></td><td class="size"></td><td class="speed"></td>` +
        `<td class="time"></td><td class="accuracy"><span class="pending">training…</span></td>`;
      return tr;
    });
    $("#results tbody").replaceChildren(...rows);
    redrawCharts();
  },
  status({ text, progress }) {
    $("#status").textContent = text;
    if (progress !== undefined && state.epochsDone === 0) setProgress(0.1 * progress);
  },
  epoch({ model, record }) {
    state.history[model].push(record);
    state.epochsDone++;
    setProgress(0.1 + (0.85 * state.epochsDone) / state.epochsTotal);
    const m = state.plan.find((p) => p.id === model);
    $("#status").textContent = `Training the ${m.name}: epoch ${record.epoch} / ${m.epochs}, test accuracy ${percent(record.valAccuracy)}`;
    redrawCharts();
  },
  trained({ model, seconds, accuracy }) {
    const row = $(`#results tr[data-model="${model}"]`);
    row.querySelector(".time").textContent = `${seconds.toFixed(2)} s`;
    row.querySelector(".accuracy").textContent = percent(accuracy);
    row.querySelector(".accuracy").dataset.accuracy = String(accuracy);
  },
  ready({ results, runtime, seconds }) {
    state.results = results;
    const teacher = results.find((r) => r.id === "teacher");
    for (const r of results) {
      const row = $(`#results tr[data-model="${r.id}"]`);
      row.querySelector(".params").innerHTML =
        `${r.params.toLocaleString("en-US")}${r.id === "teacher" ? "" : `<span class="rel">${(teacher.params / r.params).toFixed(1)}× fewer</span>`}`;
      row.querySelector(".size").textContent = `${(r.bytes / 1000).toFixed(1)} KB`;
      row.querySelector(".speed").innerHTML =
        `${formatMs(r.msPerSampleBatch1)}${r.id === "teacher" ? "" : `<span class="rel">${(teacher.msPerSampleBatch1 / r.msPerSampleBatch1).toFixed(1)}× faster</span>`}`;
    }
    const student = results.find((r) => r.id === "student");
    const scratch = results.find((r) => r.id === "scratch");
    $("#student-accuracy").textContent = percent(student.accuracy);
    $("#summary").innerHTML =
      `The distilled student reaches <b id="student-accuracy-inline">${percent(student.accuracy)}</b> on 2,000 test digits ` +
      `(teacher ${percent(teacher.accuracy)}, same student trained on labels alone ${percent(scratch.accuracy)}) ` +
      `with ${(teacher.params / student.params).toFixed(1)}× fewer parameters.`;
    $("#status").textContent =
      `Done in ${seconds.toFixed(1)} s · wasm ${runtime.build} build, ${runtime.threads} thread${runtime.threads === 1 ? "" : "s"}` +
      `${runtime.crossOriginIsolated ? " · cross-origin isolated (precise timers)" : ""} · now draw a digit below`;
    setProgress(1);
    body.dataset.state = "ready";
    for (const button of document.querySelectorAll(".downloads button")) button.disabled = false;
  },
  download({ files }) {
    // One download per file (TF.js: model.json and the weights, to keep side by side).
    for (const { name, type, bytes } of files) {
      const link = Object.assign(document.createElement("a"), { href: URL.createObjectURL(new Blob([bytes], { type })), download: name });
      link.dataset.bytes = String(bytes.byteLength);
      $(".downloads").append(link);
      link.click();
      setTimeout(() => {
        URL.revokeObjectURL(link.href);
        link.remove();
      }, 60_000);
    }
  },
  prediction({ results }) {
    state.busy = false;
    showPrediction(results);
    if (state.pending) send(state.pending);
  },
  error({ message }) {
    state.busy = false;
    if (body.dataset.state !== "ready") fail(message);
    else console.error(message);
  },
};

function fail(message) {
  body.dataset.state = "error";
  $("#status").textContent = `Error: ${message}`;
}

function legendKey(color, text, dashed = false, className = "") {
  const span = document.createElement("span");
  span.className = `key ${className}`;
  span.innerHTML = `<span class="swatch${dashed ? " dashed" : ""}" style="border-color:${color}"></span>`;
  span.append(text);
  return span;
}

function setProgress(fraction) {
  $("#progress-bar").style.width = `${Math.round(Math.min(1, fraction) * 1000) / 10}%`;
  $("#progress").setAttribute("aria-valuenow", String(Math.round(fraction * 100)));
}

const percent = (v) => (Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : "–");
const formatMs = (ms) => (ms < 0.1 ? `${(ms * 1000).toPrecision(3)} µs` : `${ms.toPrecision(3)} ms`);

/** Decimals that a tick step needs: 0.25 → 2, 0.5 → 1, 10 → 0. */
const decimals = (step) => (String(Number(step.toPrecision(6))).split(".")[1] ?? "").length;

function redrawCharts() {
  const xMax = Math.max(2, ...state.plan.map((m) => m.epochs));
  const series = (test, training) =>
    state.plan.flatMap((m) => [
      { id: m.id, color: COLORS[m.id], dashed: true, points: state.history[m.id].map((r) => [r.epoch, r[training]]) },
      { id: m.id, color: COLORS[m.id], points: state.history[m.id].map((r) => [r.epoch, r[test]]) },
    ]);
  drawChart($("#loss-chart"), {
    series: series("valLoss", "crossEntropy"),
    xMax,
    xLabel: "epoch",
    yLabel: "loss",
    format: (v, step) => v.toFixed(decimals(step)),
  });
  drawChart($("#accuracy-chart"), {
    series: series("valAccuracy", "accuracy"),
    xMax,
    xLabel: "epoch",
    yLabel: "accuracy",
    yRange: [0, 1],
    format: (v, step) => `${(v * 100).toFixed(decimals(step * 100))}%`,
  });
}

// ---------------------------------------------------------------- drawing

const pad = $("#pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
const preview = $("#preview").getContext("2d");
let drawing = false;
let last = null;
let frame = 0;

function position(event) {
  const rect = pad.getBoundingClientRect();
  return [((event.clientX - rect.left) * pad.width) / rect.width, ((event.clientY - rect.top) * pad.height) / rect.height];
}

function stroke(from, to) {
  ctx.strokeStyle = "#111";
  ctx.fillStyle = "#111";
  ctx.lineWidth = pad.width / 12; // ≈ 2 px of the 20 px MNIST box for a digit the height of the pad
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  if (from[0] === to[0] && from[1] === to[1]) {
    ctx.arc(to[0], to[1], ctx.lineWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
  } else {
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
  }
}

pad.addEventListener("pointerdown", (event) => {
  if (body.dataset.state !== "ready") return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  drawing = true;
  last = position(event);
  stroke(last, last);
  schedulePrediction();
});
pad.addEventListener("pointermove", (event) => {
  if (!drawing) return;
  event.preventDefault();
  for (const e of event.getCoalescedEvents?.() ?? [event]) {
    const p = position(e);
    stroke(last, p);
    last = p;
  }
  schedulePrediction();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => {
    if (!drawing) return;
    drawing = false;
    schedulePrediction();
  });
}

$("#clear").addEventListener("click", () => {
  ctx.clearRect(0, 0, pad.width, pad.height);
  preview.clearRect(0, 0, SIDE, SIDE);
  state.pending = null;
  resetPrediction();
});

/** Predicts at most once per animation frame, and never more than one request at a time. */
function schedulePrediction() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const pixels = toMnist(ctx.getImageData(0, 0, pad.width, pad.height).data, pad.width, pad.height);
    if (!pixels) return;
    drawPreview(pixels);
    if (state.busy) state.pending = pixels;
    else send(pixels);
  });
}

function send(pixels) {
  state.pending = null;
  state.busy = true;
  $("#prediction").dataset.state = "running";
  worker.postMessage({ type: "predict", id: state.nextId++, pixels });
}

function drawPreview(pixels) {
  const image = preview.createImageData(SIDE, SIDE);
  for (let i = 0; i < pixels.length; i++) {
    image.data[i * 4 + 3] = Math.round(pixels[i] * 255); // ink as alpha over the white preview
  }
  preview.putImageData(image, 0, 0);
}

// ---------------------------------------------------------------- predictions

function buildBars() {
  for (const column of document.querySelectorAll(".prediction")) {
    const bars = column.querySelector(".bars");
    bars.replaceChildren(
      ...Array.from({ length: 10 }, (_, d) => {
        const row = document.createElement("div");
        row.className = "bar-row";
        row.dataset.digit = String(d);
        row.innerHTML = `<span class="bar-digit">${d}</span><span class="bar-track"><span class="bar-fill"></span></span><span class="bar-value"></span>`;
        return row;
      }),
    );
  }
}

function resetPrediction() {
  delete $("#prediction").dataset.state;
  for (const column of document.querySelectorAll(".prediction")) {
    column.querySelector(".digit").textContent = "–";
    column.querySelector(".confidence").textContent = "";
    column.querySelector(".ms").textContent = "";
    for (const row of column.querySelectorAll(".bar-row")) {
      row.classList.remove("top");
      delete row.dataset.p;
      row.querySelector(".bar-fill").style.width = "0";
      row.querySelector(".bar-value").textContent = "";
    }
  }
}

function showPrediction(results) {
  const teacherMs = results.find((r) => r.model === "teacher").ms;
  for (const { model, probabilities, ms } of results) {
    const column = $(`.prediction[data-model="${model}"]`);
    const top = probabilities.indexOf(Math.max(...probabilities));
    column.querySelector(".digit").textContent = String(top);
    column.dataset.predicted = String(top);
    column.querySelector(".confidence").textContent = `${(probabilities[top] * 100).toFixed(1)}% sure`;
    column.querySelector(".ms").innerHTML = `<b>${formatMs(ms)}</b> per prediction` + (model === "teacher" ? "" : ` · ${(teacherMs / ms).toFixed(1)}× faster`);
    column.querySelector(".ms").dataset.ms = String(ms);
    for (const row of column.querySelectorAll(".bar-row")) {
      const p = probabilities[Number(row.dataset.digit)];
      row.dataset.p = String(p);
      row.classList.toggle("top", Number(row.dataset.digit) === top);
      row.querySelector(".bar-fill").style.width = `${(p * 100).toFixed(2)}%`;
      row.querySelector(".bar-value").textContent = p >= 0.0005 ? `${(p * 100).toFixed(1)}%` : "0%";
    }
  }
  $("#prediction").dataset.state = "done";
}

buildBars();
resetPrediction();
