// The sigpad kiosk page. It listens to /v1/stream (WebSocket) and draws what it says:
// ink as it is written (width from pressure), the prompt, the verdict; its buttons
// POST /v1/ok, /v1/clear and /v1/cancel. Same origin only: the service refuses others.
"use strict";
const canvas = document.getElementById("ink");
const ctx = canvas.getContext("2d");
const promptEl = document.getElementById("prompt");
const padEl = document.getElementById("pad");
const verdictEl = document.getElementById("verdict");
const PEN_PX = 5;                    // stroke width at full pressure, in CSS pixels
let aspect = 1.5;                    // the pad's width / height, from the service
let last = null;                     // the previous pen-down sample
// Each ink event's pad time and when it arrived (ms since the epoch), for latency checks.
window.sigpadInk = [];

function fitCanvas() {
  const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(r.width * dpr);
  canvas.height = Math.round(r.height * dpr);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  last = null;
}

// The pad's area letterboxed into the canvas, keeping its aspect ratio.
function toCanvas(nx, ny) {
  const r = canvas.getBoundingClientRect();
  const w = Math.min(r.width, r.height * aspect), h = w / aspect;
  return [(r.width - w) / 2 + nx * w, (r.height - h) / 2 + ny * h];
}

function clearInk() {
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  last = null;
}

function drawInk(ev) {
  window.sigpadInk.push([ev.t_ms, performance.timeOrigin + performance.now()]);
  if (window.sigpadInk.length > 20000) window.sigpadInk.splice(0, 10000);
  if (!ev.down) { last = null; return; }
  const [x, y] = toCanvas(ev.nx, ev.ny);
  if (last) {
    const p = ev.p === null ? 1 : ev.p;
    ctx.strokeStyle = "#0b2a66";
    ctx.lineCap = "round";
    ctx.lineWidth = PEN_PX * (0.35 + 0.65 * p);
    ctx.beginPath();
    ctx.moveTo(last[0], last[1]);
    ctx.lineTo(x, y);
    ctx.stroke();
  }
  last = [x, y];
}

function showPad(pad) {
  if (pad.aspect) aspect = pad.aspect;
  padEl.textContent = pad.present ? `pad ${pad.protocol}` : "no pad";
  padEl.className = "state " + (pad.present ? "present" : "absent");
}

function showVerdict(word, reason, kind) {
  document.getElementById("verdict-word").textContent = word;
  document.getElementById("verdict-reason").textContent = reason;
  verdictEl.className = kind;
  verdictEl.hidden = false;
}

function handle(ev) {
  switch (ev.event) {
    case "hello": showPad(ev.pad); if (ev.busy) promptEl.textContent = "Sign now"; break;
    case "pad": showPad(ev); break;
    case "ink": drawInk(ev); break;
    case "pen": if (!ev.down) last = null; break;
    case "prompt":
      verdictEl.hidden = true;
      if (ev.message.startsWith("sign")) clearInk();
      promptEl.textContent = ev.message.charAt(0).toUpperCase() + ev.message.slice(1);
      break;
    case "cleared": clearInk(); break;
    case "cancelled": clearInk(); promptEl.textContent = "Cancelled"; break;
    case "decision":
      showVerdict(ev.accepted ? "ACCEPTED" : "REJECTED",
                  ev.accepted ? ev.user : `${ev.reason}${ev.detail ? ": " + ev.detail : ""}`,
                  ev.accepted ? "accepted" : "rejected");
      promptEl.textContent = "Done";
      break;
    case "enrolled": showVerdict("ENROLLED", `${ev.user}: ${ev.templates} signatures`, "accepted"); break;
    case "captured": promptEl.textContent = "Signature captured"; break;
    case "error": if (ev.request_id) showVerdict("SIGN AGAIN", ev.error, "rejected"); break;
  }
}

function connect() {
  const ws = new WebSocket(`ws://${location.host}/v1/stream`);
  ws.onmessage = (e) => handle(JSON.parse(e.data));
  ws.onclose = () => {
    padEl.textContent = "service gone";
    padEl.className = "state absent";
    setTimeout(connect, 1000);
  };
}

function press(name) {
  fetch(`/v1/${name}`, {method: "POST"}).catch(() => {});
}

document.getElementById("ok").onclick = () => press("ok");
document.getElementById("cancel").onclick = () => press("cancel");
document.getElementById("clear").onclick = () => { clearInk(); press("clear"); };
window.addEventListener("resize", fitCanvas);
fitCanvas();
connect();
