// The sketch2face page: a sketch in (upload, drop, paste or draw), its eyes checked, a photo out.
// Plain JavaScript, no build step; everything it loads comes from this server.
"use strict";

const $ = (selector) => document.querySelector(selector);
const UNDO_DEPTH = 30;

const METHOD_NOTES = {
  "detected eyes": ["Eyes found by the detector. Drag a marker if it is off.", false],
  "eyes placed in the face box": [
    "A face was found but not its eyes: they are placed where eyes usually are. Check them and drag them onto the eyes.",
    true,
  ],
  "center crop": [
    "No face found: the eyes are guessed from a centre crop. Drag both markers onto the eyes.",
    true,
  ],
};

const ALIGNED_ON = {
  "detected eyes": "the detected eyes",
  "eyes placed in the face box": "eyes placed in the face box",
  "center crop": "a centre crop's eyes",
  "given eyes": "the eyes you placed",
};

const sketch = {
  file: null, // the Blob sent to the server
  url: null, // an object URL of it, for the <img>
  width: 0, // pixel size of the image as the server decoded it
  height: 0,
  found: null, // the eyes /api/align gave: {left: {x, y}, right: {x, y}}
  eyes: null, // the eyes the markers show now
  moved: false, // true once a person moved a marker: then the page sends its eyes
};

// ---- messages -------------------------------------------------------------------------------

function say(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function problem(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    detail = (await response.json()).detail || detail;
  } catch (ignored) {
    // not JSON: the status line says enough
  }
  if (response.status === 503) {
    detail += ` (the server is busy; try again in ${response.headers.get("Retry-After") || "a few"} s)`;
  }
  return detail;
}

function fmt(value, digits, unit = "") {
  return value === null || value === undefined ? "unknown" : `${value.toFixed(digits)}${unit}`;
}

async function showModelInfo() {
  const target = $("#model-info");
  try {
    const response = await fetch("/api/model");
    if (!response.ok) throw new Error(await problem(response));
    const info = await response.json();
    const parts = [
      `Model ${info.name}`,
      `${info.image_size}×${info.image_size} px`,
      `trained ${info.trained_at ? info.trained_at.replace("T", " ").replace("+00:00", " UTC") : "on an unknown date"}`,
      `on ${info.device}`,
    ];
    const evaluation = info.evaluation;
    parts.push(
      evaluation
        ? `test set: PSNR ${fmt(evaluation.psnr, 2, " dB")}, SSIM ${fmt(evaluation.ssim, 3)}, ` +
            `FSIM ${fmt(evaluation.fsim, 3)} (${evaluation.source})`
        : "evaluation unknown",
    );
    target.textContent = parts.join(" · ");
  } catch (error) {
    target.textContent = `The model's details could not be loaded: ${error.message}`;
  }
}

// ---- choosing a sketch --------------------------------------------------------------------------

function imageForm(extra = {}) {
  const form = new FormData();
  form.append("image", sketch.file, sketch.file.name || "sketch.png");
  for (const [name, value] of Object.entries(extra)) form.append(name, String(value));
  return form;
}

async function useSketch(blob, name) {
  if (!blob) return;
  const file = blob instanceof File ? blob : new File([blob], name, { type: blob.type || "image/png" });
  say(`Looking for the eyes in ${file.name}…`);
  sketch.file = file;
  const response = await fetch("/api/align", { method: "POST", body: imageForm() });
  if (!response.ok) {
    say(await problem(response), true);
    return;
  }
  const found = await response.json();
  if (sketch.url) URL.revokeObjectURL(sketch.url);
  sketch.url = URL.createObjectURL(file);
  Object.assign(sketch, { width: found.width, height: found.height, moved: false });
  sketch.found = { left: found.alignment.left_eye, right: found.alignment.right_eye };
  const [note, warn] = METHOD_NOTES[found.alignment.method] || [found.alignment.method, false];
  const eyesNote = $("#eyes-note");
  eyesNote.textContent = `${file.name}, ${found.width}×${found.height} px. ${note}`;
  eyesNote.classList.toggle("warn", warn);
  for (const marker of markers()) marker.classList.toggle("estimated", found.alignment.estimated);
  $("#stage").style.setProperty("--aspect", String(found.width / found.height));
  $("#sketch").src = sketch.url;
  placeEyes(sketch.found);
  $("#sketch-panel").hidden = false;
  $("#result-panel").hidden = true;
  say("Check the eyes, then Generate.");
}

function setUpUpload() {
  const zone = $("#drop-zone");
  $("#file-input").addEventListener("change", (event) => useSketch(event.target.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    useSketch(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.items].find((entry) => entry.kind === "file" && entry.type.startsWith("image/"));
    if (item) useSketch(item.getAsFile(), "pasted.png");
  });
}

function setUpTabs() {
  const tabs = { "upload-tab": "upload-view", "draw-tab": "draw-view" };
  for (const [tabId, viewId] of Object.entries(tabs)) {
    $(`#${tabId}`).addEventListener("click", () => {
      for (const [otherTab, otherView] of Object.entries(tabs)) {
        $(`#${otherTab}`).setAttribute("aria-selected", String(otherTab === tabId));
        $(`#${otherView}`).hidden = otherView !== viewId;
      }
    });
  }
}

// ---- drawing ------------------------------------------------------------------------------------

function setUpDrawing() {
  const canvas = $("#canvas");
  const context = canvas.getContext("2d");
  const history = [];
  let tool = "pen";
  let drawing = false;

  const blank = () => {
    context.fillStyle = "#ffffff";
    context.fillRect(0, 0, canvas.width, canvas.height);
  };
  const remember = () => {
    history.push(context.getImageData(0, 0, canvas.width, canvas.height));
    if (history.length > UNDO_DEPTH) history.shift();
  };
  const at = (event) => {
    const box = canvas.getBoundingClientRect();
    return [((event.clientX - box.left) * canvas.width) / box.width, ((event.clientY - box.top) * canvas.height) / box.height];
  };
  const choose = (name) => {
    tool = name;
    $("#pen").setAttribute("aria-pressed", String(name === "pen"));
    $("#eraser").setAttribute("aria-pressed", String(name === "eraser"));
  };

  blank();
  canvas.addEventListener("pointerdown", (event) => {
    remember();
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    const size = Number($("#pen-size").value);
    context.lineCap = context.lineJoin = "round";
    context.lineWidth = tool === "pen" ? size : size * 4;
    context.strokeStyle = tool === "pen" ? "#1a1a1a" : "#ffffff";
    context.beginPath();
    context.moveTo(...at(event));
    context.lineTo(...at(event)); // a tap leaves a dot
    context.stroke();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const points = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const point of points.length ? points : [event]) context.lineTo(...at(point));
    context.stroke();
  });
  for (const name of ["pointerup", "pointercancel"]) canvas.addEventListener(name, () => (drawing = false));

  $("#pen").addEventListener("click", () => choose("pen"));
  $("#eraser").addEventListener("click", () => choose("eraser"));
  $("#undo").addEventListener("click", () => {
    if (history.length) context.putImageData(history.pop(), 0, 0);
  });
  $("#clear").addEventListener("click", () => {
    remember();
    blank();
  });
  $("#use-drawing").addEventListener("click", () => canvas.toBlob((blob) => useSketch(blob, "drawing.png"), "image/png"));
}

// ---- the eye markers ----------------------------------------------------------------------------

function markers() {
  return [$("#left-eye"), $("#right-eye")];
}

// Eye coordinates are pixel centres (pixel i spans i - 0.5 .. i + 0.5), as the aligner's warp reads them.
function placeEyes(eyes) {
  sketch.eyes = { left: { ...eyes.left }, right: { ...eyes.right } };
  drawMarkers();
}

function drawMarkers() {
  const [left, right] = markers();
  for (const [marker, eye] of [[left, sketch.eyes.left], [right, sketch.eyes.right]]) {
    marker.style.left = `${((eye.x + 0.5) / sketch.width) * 100}%`;
    marker.style.top = `${((eye.y + 0.5) / sketch.height) * 100}%`;
    marker.dataset.x = eye.x.toFixed(2);
    marker.dataset.y = eye.y.toFixed(2);
  }
}

function moveEye(side, x, y) {
  sketch.eyes[side] = {
    x: Math.min(Math.max(x, 0), sketch.width - 1),
    y: Math.min(Math.max(y, 0), sketch.height - 1),
  };
  sketch.moved = true;
  drawMarkers();
}

function setUpMarkers() {
  const stage = $("#stage");
  for (const [side, marker] of [["left", $("#left-eye")], ["right", $("#right-eye")]]) {
    marker.addEventListener("pointerdown", (event) => {
      marker.setPointerCapture(event.pointerId);
      marker.classList.add("dragging");
    });
    marker.addEventListener("pointermove", (event) => {
      if (!marker.hasPointerCapture(event.pointerId)) return;
      const box = stage.getBoundingClientRect();
      const x = ((event.clientX - box.left) / box.width) * sketch.width - 0.5;
      const y = ((event.clientY - box.top) / box.height) * sketch.height - 0.5;
      moveEye(side, x, y);
    });
    for (const name of ["pointerup", "pointercancel"]) {
      marker.addEventListener(name, () => marker.classList.remove("dragging"));
    }
    marker.addEventListener("keydown", (event) => {
      const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
      if (!steps) return;
      event.preventDefault();
      const step = event.shiftKey ? 10 : 1;
      const eye = sketch.eyes[side];
      moveEye(side, eye.x + steps[0] * step, eye.y + steps[1] * step);
    });
  }
  $("#reset-eyes").addEventListener("click", () => {
    placeEyes(sketch.found);
    sketch.moved = false;
  });
}

// ---- generating ---------------------------------------------------------------------------------

function eyeFields() {
  if (!sketch.moved) return {}; // the server finds the same eyes again
  const [left, right] = [sketch.eyes.left, sketch.eyes.right].sort((a, b) => a.x - b.x);
  return { left_eye_x: left.x, left_eye_y: left.y, right_eye_x: right.x, right_eye_y: right.y };
}

async function generate() {
  const button = $("#generate");
  button.disabled = true;
  say("Generating…");
  try {
    const response = await fetch("/api/predict?format=json", { method: "POST", body: imageForm(eyeFields()) });
    if (!response.ok) {
      say(await problem(response), true);
      return;
    }
    const result = await response.json();
    const photo = `data:image/png;base64,${result.photo_png_base64}`;
    $("#aligned").src = `data:image/png;base64,${result.aligned_sketch_png_base64}`;
    $("#photo").src = photo;
    const download = $("#download");
    download.href = photo;
    download.download = `${(sketch.file.name || "sketch").replace(/\.[^.]*$/, "")}_photo.png`;
    const { method, left_eye: left, right_eye: right } = result.alignment;
    const note = $("#result-note");
    note.textContent =
      `Aligned on ${ALIGNED_ON[method] || method}: ` +
      `(${left.x.toFixed(1)}, ${left.y.toFixed(1)}) and (${right.x.toFixed(1)}, ${right.y.toFixed(1)}) px.`;
    note.dataset.eyes = [left.x, left.y, right.x, right.y].join(",");
    $("#result-panel").hidden = false;
    say("Done.");
  } catch (error) {
    say(`The server could not be reached: ${error.message}`, true);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpTabs();
  setUpUpload();
  setUpDrawing();
  setUpMarkers();
  $("#generate").addEventListener("click", generate);
  showModelInfo();
});
