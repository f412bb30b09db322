// The page of `style-transfer serve`: sliders blend styles, a brush paints regions, the
// server paints. Every request carries this tab's session id; pictures stay on the server
// until the page fetches them. The camera (getUserMedia) is painted live over a WebSocket to
// the same server: frames go to 127.0.0.1 and back, nowhere else.
"use strict";

const REGION_COLOURS = [null, [230, 57, 70], [29, 120, 230], [42, 157, 80], [244, 162, 97],
                        [131, 56, 236], [0, 180, 216], [255, 190, 11], [120, 120, 120]];
const OVERLAY_ALPHA = 80;
// Camera frames on their way at once: the next frame is sent while one is painted.
const LIVE_IN_FLIGHT = 2;
// The frame rate shown is over this window.
const LIVE_RATE_WINDOW_MS = 2000;

const state = {
  session: null,
  config: null,
  model: 0,
  weights: [],        // slider values (0-100), one per style or style image
  regions: [],        // the style of region k + 1
  tool: null,         // null: no brush; 0: eraser; k: region k
  labels: null,       // Uint8Array, one label per preview pixel
  size: null,         // [preview width, preview height], or the camera frames' while live
  photoSize: null,    // the photo's preview size, to go back to after the camera
  styleImages: 0,
};

const live = {
  socket: null,
  stream: null,       // the camera's MediaStream
  video: null,        // a <video> playing it, drawn into `grab`
  grab: null,         // a canvas of the frame size
  sent: [],           // performance.now() of each frame on its way
  received: [],       // performance.now() of each painting in the rate window
  latencies: [],      // ms from a frame's sending to its painting, in the rate window
};

const $ = (id) => document.getElementById(id);
const pictureCanvas = $("picture");
const regionsCanvas = $("regions");

// ------------------------------------------------------------------ talking to the server

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.session) headers["X-Session"] = state.session;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (ignored) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function showStatus(message, isError = false) {
  $("status").textContent = message;
  $("status").classList.toggle("error", isError);
}

function paintRequest() {
  return {
    model: state.model,
    weights: state.weights,
    regions: state.regions,
    soft_edge_px: Number($("soft-edge").value),
    strength: Number($("strength").value) / 100,
    preserve_color: $("preserve-color").checked,
  };
}

// Previews: one request at a time; whatever changed meanwhile is sent when it returns.
const pending = { preview: false, regions: false };
let painting = false;

function schedule(what) {
  if (live.socket && what === "preview") {
    sendLivePaintRequest();
    return;
  }
  pending[what] = true;
  if (!painting) paintPreviews();
}

async function paintPreviews() {
  painting = true;
  $("stage").dataset.state = "painting";
  while (pending.preview || pending.regions) {
    try {
      if (pending.regions) {
        pending.regions = false;
        await api("/api/regions", { method: "PUT", body: state.labels,
                                    headers: { "Content-Type": "application/octet-stream" } });
        pending.preview = !live.socket;  // live: the next frame takes the regions
      }
      if (pending.preview && state.size && canPaint()) {
        pending.preview = false;
        const response = await api("/api/preview", jsonBody(paintRequest()));
        await drawPicture(await response.blob());
        $("stage").dataset.previews = String(Number($("stage").dataset.previews) + 1);
        showStatus("Preview ready. Paint the full-size picture when you like it.");
      } else {
        pending.preview = false;
      }
    } catch (error) {
      showStatus(error.message, true);
    }
  }
  painting = false;
  $("stage").dataset.state = "ready";
}

function canPaint() {
  if (styleCount() === 0) {
    showStatus("This model paints with style images: add one.", true);
    return false;
  }
  if (state.weights.every((weight) => weight <= 0)) {
    showStatus("Give at least one style some weight.", true);
    return false;
  }
  return true;
}

function jsonBody(body) {
  return { method: "POST", body: JSON.stringify(body),
           headers: { "Content-Type": "application/json" } };
}

// A photo with transparency comes back with its alpha channel (RGBA PNG): the canvas is
// cleared first, or the new picture would be drawn over the one before where it is not opaque.
async function drawPicture(blob) {
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none",
                                                 premultiplyAlpha: "none" });
  const context = pictureCanvas.getContext("2d");
  context.clearRect(0, 0, pictureCanvas.width, pictureCanvas.height);
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
}

// ------------------------------------------------------------------------------ photos

function setStageSize(width, height) {
  state.size = [width, height];
  for (const canvas of [pictureCanvas, regionsCanvas]) {
    canvas.width = width;
    canvas.height = height;
  }
  state.labels = new Uint8Array(width * height);
  drawRegions();
}

async function photoChosen(response) {
  const photo = await response.json();
  if (live.socket) stopCamera();
  state.photoSize = [photo.preview_width, photo.preview_height];
  setStageSize(photo.preview_width, photo.preview_height);
  $("full").disabled = false;
  $("download").hidden = true;
  showStatus(`Photo of ${photo.width} x ${photo.height} pixels; painting a preview…`);
  schedule("preview");
}

async function uploadPhoto(file) {
  if (file.size > state.config.max_upload_bytes) {
    showStatus(`${file.name} is larger than the ${Math.round(state.config.max_upload_bytes / 2 ** 20)} MiB this server accepts.`, true);
    return;
  }
  showStatus(`Sending ${file.name}…`);
  try {
    await photoChosen(await api("/api/photo", { method: "POST", body: file }));
  } catch (error) {
    showStatus(error.message, true);
  }
}

async function takeBundledPhoto(name) {
  try {
    await photoChosen(await api(`/api/photo/bundled/${encodeURIComponent(name)}`,
                                { method: "POST" }));
  } catch (error) {
    showStatus(error.message, true);
  }
}

// ------------------------------------------------------------------------------ styles

function currentModel() {
  return state.config.models[state.model];
}

function styleCount() {
  return currentModel().kind === "arbitrary" ? state.styleImages : currentModel().styles.length;
}

function styleName(index) {
  const model = currentModel();
  return model.kind === "arbitrary" ? `image ${index + 1}` : `${index}: ${model.styles[index]}`;
}

function buildStyles() {
  const count = styleCount();
  const model = currentModel();
  if (state.weights.length !== count) {
    state.weights = Array.from({ length: count }, (_, index) => (index === 0 ? 100 : 0));
  }
  state.regions = state.regions.map((style) => Math.min(style, Math.max(count - 1, 0)));
  $("style-images-tools").hidden = model.kind !== "arbitrary";
  const grid = $("styles");
  grid.replaceChildren();
  for (let index = 0; index < count; index++) {
    const figure = document.createElement("figure");
    figure.className = "style";
    const image = document.createElement("img");
    image.alt = styleName(index);
    if (model.kind === "arbitrary") loadStyleImage(image, index);
    else image.src = `/api/models/${state.model}/styles/${index}.png`;
    const caption = document.createElement("figcaption");
    caption.textContent = styleName(index);
    const slider = document.createElement("input");
    slider.type = "range";
    slider.min = "0";
    slider.max = "100";
    slider.value = String(state.weights[index]);
    slider.dataset.style = String(index);
    slider.setAttribute("aria-label", `weight of ${styleName(index)}`);
    const share = document.createElement("output");
    slider.addEventListener("input", () => {
      state.weights[index] = Number(slider.value);
      showShares();
      schedule("preview");
    });
    figure.append(image, caption, slider, share);
    grid.append(figure);
  }
  showShares();
  buildRegionList();
}

async function loadStyleImage(image, index) {
  try {
    const response = await api(`/api/style-images/${index}.png`);
    image.src = URL.createObjectURL(await response.blob());
  } catch (error) {
    showStatus(error.message, true);
  }
}

// The blend is each slider's share of their sum: convex whatever the sliders say.
function showShares() {
  const total = state.weights.reduce((sum, weight) => sum + weight, 0);
  document.querySelectorAll("#styles output").forEach((output, index) => {
    output.textContent = total > 0 ? `${Math.round((100 * state.weights[index]) / total)}%` : "–";
  });
}

async function addStyleImage(file) {
  try {
    const response = await api("/api/style-images", { method: "POST", body: file });
    state.styleImages = (await response.json()).style_images;
    buildStyles();
    schedule("preview");
  } catch (error) {
    showStatus(error.message, true);
  }
}

async function clearStyleImages() {
  await api("/api/style-images", { method: "DELETE" });
  state.styleImages = 0;
  buildStyles();
}

// ----------------------------------------------------------------------------- regions

function buildRegionList() {
  const list = $("region-list");
  list.replaceChildren();
  state.regions.forEach((style, position) => {
    const region = position + 1;
    const row = document.createElement("div");
    row.className = "region";
    const tool = document.createElement("input");
    tool.type = "radio";
    tool.name = "tool";
    tool.value = String(region);
    tool.checked = state.tool === region;
    tool.setAttribute("aria-label", `paint region ${region}`);
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = `rgb(${REGION_COLOURS[region].join(",")})`;
    const select = document.createElement("select");
    select.setAttribute("aria-label", `style of region ${region}`);
    for (let index = 0; index < styleCount(); index++) {
      select.append(new Option(styleName(index), String(index), false, index === style));
    }
    select.addEventListener("change", () => {
      state.regions[position] = Number(select.value);
      schedule("preview");
    });
    const label = document.createElement("label");
    label.append(tool, swatch, `Region ${region}`);
    row.append(label, select);
    list.append(row);
  });
  $("add-region").disabled = state.regions.length >= state.config.max_regions || styleCount() === 0;
}

function chooseTool(value) {
  state.tool = value === null ? null : Number(value);
}

function stamp(x, y) {
  const [width, height] = state.size;
  const radius = Number($("brush").value) / 2;
  for (let row = Math.max(0, Math.floor(y - radius)); row <= Math.min(height - 1, y + radius); row++) {
    const half = Math.sqrt(Math.max(0, radius * radius - (row - y) * (row - y)));
    const first = Math.max(0, Math.ceil(x - half));
    const last = Math.min(width - 1, Math.floor(x + half));
    state.labels.fill(state.tool, row * width + first, row * width + last + 1);
  }
}

function strokeTo(from, to) {
  const step = Math.max(1, Number($("brush").value) / 4);
  const distance = Math.hypot(to[0] - from[0], to[1] - from[1]);
  const count = Math.max(1, Math.ceil(distance / step));
  for (let i = 1; i <= count; i++) {
    stamp(from[0] + ((to[0] - from[0]) * i) / count, from[1] + ((to[1] - from[1]) * i) / count);
  }
}

function drawRegions() {
  const [width, height] = state.size;
  const overlay = new ImageData(width, height);
  for (let i = 0; i < state.labels.length; i++) {
    const colour = REGION_COLOURS[state.labels[i]];
    if (colour) overlay.data.set([colour[0], colour[1], colour[2], OVERLAY_ALPHA], 4 * i);
  }
  regionsCanvas.getContext("2d").putImageData(overlay, 0, 0);
}

function canvasPoint(event) {
  const box = regionsCanvas.getBoundingClientRect();
  return [((event.clientX - box.left) * regionsCanvas.width) / box.width,
          ((event.clientY - box.top) * regionsCanvas.height) / box.height];
}

let lastPoint = null;

function startStroke(event) {
  if (state.tool === null || !state.labels) return;
  regionsCanvas.setPointerCapture(event.pointerId);
  lastPoint = canvasPoint(event);
  stamp(...lastPoint);
  drawRegions();
}

function continueStroke(event) {
  if (lastPoint === null) return;
  const point = canvasPoint(event);
  strokeTo(lastPoint, point);
  lastPoint = point;
  drawRegions();
}

function endStroke() {
  if (lastPoint === null) return;
  lastPoint = null;
  schedule("regions");
}

// --------------------------------------------------------------------- full-size picture

async function paintFullSize() {
  $("full").disabled = true;
  $("download").hidden = true;
  const progress = $("full-progress");
  progress.hidden = false;
  progress.value = 0;
  try {
    if (pending.regions || painting) await waitForPreviews();
    let job = await (await api("/api/full", jsonBody(paintRequest()))).json();
    while (job.state === "painting") {
      progress.value = job.progress;
      showStatus(`Painting the full-size picture: ${Math.round(100 * job.progress)}%`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = await (await api("/api/full")).json();
    }
    if (job.state === "failed") throw new Error(job.error);
    progress.value = 1;
    const picture = await (await api("/api/full.png")).blob();
    const link = $("download");
    if (link.href) URL.revokeObjectURL(link.href);
    link.href = URL.createObjectURL(picture);
    link.hidden = false;
    showStatus(`The full-size picture (${job.width} x ${job.height}) is ready to download.`);
  } catch (error) {
    showStatus(error.message, true);
  } finally {
    $("full").disabled = false;
    progress.hidden = true;
  }
}

function waitForPreviews() {
  return new Promise((resolve) => {
    const check = () => (painting ? setTimeout(check, 50) : resolve());
    check();
  });
}

// ------------------------------------------------------------------------- live camera

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showStatus("This browser offers no camera to this page.", true);
    return;
  }
  if (!canPaint()) return;
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: {
      width: { ideal: 640 }, height: { ideal: 480 } } });
  } catch (error) {
    showStatus(`The camera cannot be opened: ${error.message}`, true);
    return;
  }
  live.video = document.createElement("video");
  live.video.muted = true;
  live.video.playsInline = true;
  live.video.srcObject = live.stream;
  await live.video.play();
  const scale = Math.min(1, state.config.live_px /
                            Math.max(live.video.videoWidth, live.video.videoHeight));
  const width = Math.max(16, Math.round(live.video.videoWidth * scale));
  const height = Math.max(16, Math.round(live.video.videoHeight * scale));
  live.grab = document.createElement("canvas");
  live.grab.width = width;
  live.grab.height = height;
  setStageSize(width, height);
  Object.assign(live, { sent: [], received: [], latencies: [] });
  $("stage").dataset.liveFrames = "0";
  $("full").disabled = true;
  $("camera").textContent = "Stop the camera";
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/live`);
  socket.binaryType = "arraybuffer";
  live.socket = socket;
  socket.onopen = () => socket.send(JSON.stringify({
    session: state.session, width, height, paint: paintRequest() }));
  socket.onmessage = (event) => liveMessage(socket, event.data);
  socket.onclose = () => {
    if (live.socket === socket) stopCamera();
  };
  showStatus(`Painting the camera at ${width} x ${height}…`);
}

function liveMessage(socket, data) {
  if (socket !== live.socket) return;
  if (typeof data === "string") {
    const message = JSON.parse(data);
    if (message.error) showStatus(message.error, true);
    if (message.frame) live.sent.shift();  // that frame is answered, by an error
    if (message.live || message.frame) sendFrames();
    return;
  }
  const [width, height] = state.size;
  pictureCanvas.getContext("2d").putImageData(
    new ImageData(new Uint8ClampedArray(data), width, height), 0, 0);
  const now = performance.now();
  live.latencies.push(now - live.sent.shift());
  live.received.push(now);
  while (live.received[0] < now - LIVE_RATE_WINDOW_MS) {
    live.received.shift();
    live.latencies.shift();
  }
  showLiveRate();
  sendFrames();
}

function sendFrames() {
  const [width, height] = state.size;
  const context = live.grab.getContext("2d", { willReadFrequently: true });
  while (live.sent.length < LIVE_IN_FLIGHT && live.socket.readyState === WebSocket.OPEN) {
    context.drawImage(live.video, 0, 0, width, height);
    live.socket.send(context.getImageData(0, 0, width, height).data.buffer);
    live.sent.push(performance.now());
  }
}

function showLiveRate() {
  const frames = live.received.length;
  const span = (live.received[frames - 1] - live.received[0]) / 1000;
  const fps = frames > 1 && span > 0 ? (frames - 1) / span : 0;
  const latency = [...live.latencies].sort((a, b) => a - b)[Math.floor(frames / 2)];
  $("live-rate").textContent = `${fps.toFixed(1)} fps, ${Math.round(latency)} ms`;
  const stage = $("stage");
  stage.dataset.liveFrames = String(Number(stage.dataset.liveFrames) + 1);
  stage.dataset.fps = fps.toFixed(2);
  stage.dataset.latencyMs = String(Math.round(latency));
}

function sendLivePaintRequest() {
  if (canPaint() && live.socket.readyState === WebSocket.OPEN) {
    live.socket.send(JSON.stringify({ paint: paintRequest() }));
  }
}

function stopCamera() {
  const socket = live.socket;
  live.socket = null;
  if (socket) socket.close();
  if (live.stream) live.stream.getTracks().forEach((track) => track.stop());
  Object.assign(live, { stream: null, video: null, grab: null, sent: [] });
  $("camera").textContent = "Paint my camera";
  $("live-rate").textContent = "";
  if (state.photoSize) {
    setStageSize(...state.photoSize);
    $("full").disabled = false;
    schedule("preview");
  }
  showStatus("The camera is off.");
}

// ------------------------------------------------------------------------------ start

async function start() {
  try {
    state.config = await (await api("/api/config")).json();
    state.session = (await (await api("/api/sessions", { method: "POST" })).json()).session;
  } catch (error) {
    showStatus(`The server cannot be reached: ${error.message}`, true);
    return;
  }
  state.config.models.forEach((model, index) => {
    $("model").append(new Option(`${model.name} (${model.kind === "arbitrary"
      ? "style images" : `${model.styles.length} styles`})`, String(index)));
  });
  state.config.photos.forEach((name) => $("bundled").append(new Option(name, name)));
  $("soft-edge").max = String(state.config.max_soft_edge_px);
  buildStyles();

  $("model").addEventListener("change", () => {
    state.model = Number($("model").value);
    state.weights = [];
    buildStyles();
    schedule("preview");
  });
  $("photo-file").addEventListener("change", (event) => {
    if (event.target.files.length) uploadPhoto(event.target.files[0]);
  });
  $("bundled").addEventListener("change", (event) => {
    if (event.target.value) takeBundledPhoto(event.target.value);
  });
  $("style-file").addEventListener("change", (event) => {
    if (event.target.files.length) addStyleImage(event.target.files[0]);
  });
  $("clear-style-images").addEventListener("click", clearStyleImages);
  $("add-region").addEventListener("click", () => {
    // A new region starts in a style other than the blend's first, to be seen at once.
    state.regions.push((state.regions.length + 1) % styleCount());
    state.tool = state.regions.length;
    buildRegionList();
  });
  $("region-list").addEventListener("change", (event) => {
    if (event.target.name === "tool") chooseTool(event.target.value);
  });
  $("eraser").addEventListener("change", () => chooseTool(0));
  $("clear-regions").addEventListener("click", () => {
    if (!state.labels) return;
    state.labels.fill(0);
    drawRegions();
    schedule("regions");
  });
  for (const [id, unit] of [["brush", " px"], ["soft-edge", " px"], ["strength", "%"]]) {
    $(id).addEventListener("input", () => {
      $(`${id}-value`).textContent = $(id).value + unit;
      if (id !== "brush") schedule("preview");
    });
  }
  $("preserve-color").addEventListener("change", () => schedule("preview"));
  $("show-regions").addEventListener("change", () => {
    regionsCanvas.classList.toggle("hidden", !$("show-regions").checked);
  });
  regionsCanvas.addEventListener("pointerdown", startStroke);
  regionsCanvas.addEventListener("pointermove", continueStroke);
  regionsCanvas.addEventListener("pointerup", endStroke);
  regionsCanvas.addEventListener("pointercancel", endStroke);
  $("full").addEventListener("click", paintFullSize);
  $("camera").addEventListener("click", () => (live.socket ? stopCamera() : startCamera()));
  $("stage").dataset.state = "ready";
}

start();
