// The signer's page. It listens to /v1/stream (WebSocket) and shows what concerns the
// signer: the prompt, the ink as it is written (fitted to the box), and a calm verdict
// that goes back to "please wait" after [kiosk] verdict_seconds. Never a score, a
// threshold or a reason code: those are for the operator's page and the API.
// Its credential comes in the URL fragment (/#k=TOKEN), which no request carries;
// it goes as a Bearer header on the buttons' POSTs and as the stream's first message.
"use strict";
const canvas = document.getElementById("ink");
const ctx = canvas.getContext("2d");
const promptEl = document.getElementById("prompt");
const padEl = document.getElementById("pad");
const verdictEl = document.getElementById("verdict");
const buttons = {ok: document.getElementById("ok"), clear: document.getElementById("clear"),
                 cancel: document.getElementById("cancel")};
const PEN_PX = 5;                    // stroke width at full pressure, in CSS pixels
const MIN_SPAN = 0.3;                // the smallest ink extent fitted, in pad heights: a first dot stays a dot
// Reasons that mean "the pad did not get a usable signature", not "this is not you".
const NOT_CAPTURED = new Set(["capture-failed", "damaged-capture", "bad-signature", "pad-silent",
                              "pad-garbled", "inconsistent"]);
const token = takeToken();
let messages = {};                   // this page's words, from /v1/kiosk
let verdictMs = 6000;
let aspect = 1.5;                    // the pad's width / height, from the service
let strokes = [];                    // the signature being written: strokes of [x, y, p] in pad heights
let active = false;                  // a request is waiting for the signer
let cancelled = null;                // the request Cancel ended: its closing error is not a verdict
let idleTimer = null, drawQueued = false;
// Each ink event's pad time and when it arrived (ms since the epoch), for latency checks.
window.sigpadInk = [];

function takeToken() {
  const found = /(?:^#|&)k=([^&]+)/.exec(location.hash);
  if (found) {
    sessionStorage.setItem("sigpad-kiosk", decodeURIComponent(found[1]));
    history.replaceState(null, "", location.pathname + location.search);   // out of sight and history
  }
  return sessionStorage.getItem("sigpad-kiosk") || "";
}

function t(key, vars = {}) {
  let text = messages[key] || key;
  for (const [name, value] of Object.entries(vars)) text = text.replace(`{${name}}`, value);
  return text;
}

function setText(el, key, vars) {
  el.dataset.text = key;
  el.textContent = t(key, vars);
}

// --- the ink, fitted: the bounding box of what is written, scaled to the box above the line ---

function fitCanvas() {
  const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(r.width * dpr);
  canvas.height = Math.round(r.height * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  redraw();
}

function inkBox() {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const stroke of strokes) for (const [x, y] of stroke) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  return x0 <= x1 ? [x0, y0, x1, y1] : null;
}

function view() {
  const r = canvas.getBoundingClientRect(), box = inkBox();
  const area = [r.width * 0.06, r.height * 0.06, r.width * 0.88, r.height * 0.74];  // above the line
  if (!box) return null;
  const [x0, y0, x1, y1] = box;
  const scale = Math.min(area[2] / Math.max(x1 - x0, MIN_SPAN), area[3] / Math.max(y1 - y0, MIN_SPAN));
  const cx = area[0] + area[2] / 2 - scale * (x0 + x1) / 2, cy = area[1] + area[3] / 2 - scale * (y0 + y1) / 2;
  return (x, y) => [cx + scale * x, cy + scale * y];
}

function redraw() {
  drawQueued = false;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const place = view();
  if (!place) return;
  ctx.strokeStyle = "#0b2a66";
  ctx.lineCap = "round";
  for (const stroke of strokes) {
    for (let i = 1; i < stroke.length; i++) {
      const [ax, ay] = place(stroke[i - 1][0], stroke[i - 1][1]), [bx, by] = place(stroke[i][0], stroke[i][1]);
      ctx.lineWidth = PEN_PX * (0.35 + 0.65 * stroke[i][2]);
      ctx.beginPath();
      ctx.moveTo(ax, ay);
      ctx.lineTo(bx, by);
      ctx.stroke();
    }
  }
}

function scheduleDraw() {
  if (!drawQueued) { drawQueued = true; requestAnimationFrame(redraw); }
}

function clearInk() {
  strokes = [];
  scheduleDraw();
}

function addInk(ev) {
  window.sigpadInk.push([ev.t_ms, performance.timeOrigin + performance.now()]);
  if (window.sigpadInk.length > 20000) window.sigpadInk.splice(0, 10000);
  if (!ev.down) { penUp(); return; }
  if (!strokes.length || strokes[strokes.length - 1].done) strokes.push([]);
  strokes[strokes.length - 1].push([ev.nx * aspect, ev.ny, ev.p === null ? 1 : ev.p]);
  scheduleDraw();
  showButtons();
}

function penUp() {
  if (strokes.length) strokes[strokes.length - 1].done = true;
}

// --- what the signer reads ---------------------------------------------------------------------

function showButtons() {
  const inked = strokes.some((s) => s.length > 0);
  buttons.cancel.disabled = !active;
  buttons.ok.disabled = buttons.clear.disabled = !(active && inked);
}

function showPad(pad) {
  if (pad.aspect) aspect = pad.aspect;
  padEl.dataset.present = pad.present ? "yes" : "no";
  setText(padEl, pad.present ? "pad_ready" : "no_pad");
  padEl.className = "state " + (pad.present ? "present" : "absent");
}

function showVerdict(word, detail, kind) {
  clearTimeout(idleTimer);
  active = false;
  setText(document.getElementById("verdict-word"), word);
  setText(document.getElementById("verdict-detail"), detail || "");
  verdictEl.className = kind;
  verdictEl.hidden = false;
  setText(promptEl, "idle");         // nothing to sign until the next request
  document.body.dataset.state = "verdict";
  idleTimer = setTimeout(toIdle, verdictMs);
  showButtons();
}

function toIdle() {
  clearTimeout(idleTimer);
  active = false;
  verdictEl.hidden = true;
  clearInk();
  setText(promptEl, "idle");
  document.body.dataset.state = "idle";
  showButtons();
}

function askToSign(message) {
  const nth = /^sign \((\d+)\/(\d+)\)/.exec(message);
  if (nth) setText(promptEl, "sign_n", {n: nth[1], count: nth[2]});
  else if (message.startsWith("sign again")) setText(promptEl, "sign_again");
  else if (message.startsWith("sign")) setText(promptEl, "sign");
  else return;                       // an operator's remark (why a signature was refused): not for the signer
  clearTimeout(idleTimer);
  verdictEl.hidden = true;
  clearInk();
  active = true;
  document.body.dataset.state = "signing";
}

function showDecision(ev) {
  if (ev.accepted) showVerdict("accepted", "accepted_detail", "accepted");
  else if (NOT_CAPTURED.has(ev.reason)) showVerdict("retry", "retry_detail", "neutral");
  else showVerdict("rejected", "rejected_detail", "rejected");
}

function closesCancelled(ev) {
  return cancelled !== null && ev.request_id === cancelled;
}

function handle(ev) {
  switch (ev.event) {
    case "hello": showPad(ev.pad); if (ev.busy) askToSign("sign now"); break;
    case "pad": showPad(ev); break;
    case "ink": if (active) addInk(ev); break;
    case "pen": if (!ev.down) penUp(); break;
    case "prompt": askToSign(ev.message); break;
    case "cleared": if (active) { clearInk(); setText(promptEl, "cleared"); } break;
    case "cancelled":
      if (!active && !ev.request_id) break;
      cancelled = ev.request_id;
      clearInk();
      showVerdict("cancelled", "", "neutral");
      break;
    case "decision": if (!closesCancelled(ev)) showDecision(ev); break;
    case "enrolled": showVerdict("enrolled", "enrolled_detail", "accepted"); break;
    case "captured": showVerdict("captured", "", "neutral"); break;
    case "error": if (ev.request_id && !closesCancelled(ev)) showVerdict("retry", "retry_detail", "neutral"); break;
  }
  showButtons();
}

// --- the service ------------------------------------------------------------------------------

function connect() {
  const ws = new WebSocket(`ws://${location.host}/v1/stream`);
  ws.onopen = () => ws.send(JSON.stringify({auth: token}));
  ws.onmessage = (e) => handle(JSON.parse(e.data));
  ws.onclose = (e) => {
    padEl.dataset.present = "no";
    setText(padEl, e.code === 4401 ? "no_access" : "offline");
    padEl.className = "state absent";
    if (active) toIdle();            // nobody is waiting for a signature any more
    setTimeout(connect, e.code === 4401 ? 5000 : 1000);
  };
}

function press(name) {
  fetch(`/v1/${name}`, {method: "POST", headers: {Authorization: `Bearer ${token}`}}).catch(() => {});
}

async function loadSettings() {
  for (;;) {
    try {
      const r = await fetch("/v1/kiosk", {headers: {Authorization: `Bearer ${token}`}});
      if (r.ok) return await r.json();
    } catch (e) { /* the service is starting: try again */ }
    await new Promise((done) => setTimeout(done, 1000));
  }
}

async function start() {
  const settings = await loadSettings();
  messages = settings.messages;
  verdictMs = settings.verdict_seconds * 1000;
  document.documentElement.lang = settings.language;
  for (const el of document.querySelectorAll("[data-text]")) el.textContent = t(el.dataset.text);
  connect();
}

buttons.ok.onclick = () => press("ok");
buttons.cancel.onclick = () => press("cancel");
buttons.clear.onclick = () => { clearInk(); showButtons(); press("clear"); };
window.addEventListener("resize", fitCanvas);
fitCanvas();
start();
