// The operator's page: the table from GET /v1/operator/overview (every few seconds), and its
// buttons: enrol (POST /v1/enrol: the service prompts the signer on the pad), unlock
// (POST /v1/operator/unlock), delete (DELETE /v1/users/USER). The credential comes in the
// URL fragment (/operator#o=TOKEN) and goes as a Bearer header on every request.
"use strict";
const REFRESH_MS = 3000;
const token = takeToken();
const tbody = document.querySelector("#users tbody");
const serviceEl = document.getElementById("service");
const messageEl = document.getElementById("message");

function takeToken() {
  const found = /(?:^#|&)o=([^&]+)/.exec(location.hash);
  if (found) {
    sessionStorage.setItem("sigpad-operator", decodeURIComponent(found[1]));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem("sigpad-operator") || "";
}

async function call(method, path, body) {
  const headers = {Authorization: `Bearer ${token}`};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(answer.error || `${method} ${path}: HTTP ${r.status}`);
  return answer;
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function when(at) {
  return new Date(at * 1000).toLocaleString();
}

function decisionLine(d) {
  const div = document.createElement("div");
  if (d.event) {           // an operator's act: "unlocked", "adaptations-undone"
    div.textContent = `${when(d.at)}  ${d.event.replace("-", " ")} by ${d.by}`;
    return div;
  }
  const score = d.score === null || d.score === undefined ? "-" : d.score.toFixed(3);
  const down = d.reasons && d.reasons.length ? `  down: ${d.reasons.join(", ")}` : "";  // what pulled the score down
  div.textContent = `${when(d.at)}  ${d.accepted ? "ACCEPTED" : "REJECTED"}  ${d.reason}  score ${score}${down}`;
  div.className = d.accepted ? "accepted" : "rejected";
  return div;
}

function button(label, action, enabled) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.disabled = !enabled;
  b.onclick = action;
  return b;
}

function showUsers(users) {
  tbody.replaceChildren();
  for (const u of users) {
    const row = tbody.insertRow();
    row.dataset.user = u.user;
    row.dataset.locked = u.locked ? "yes" : "no";
    cell(row, u.user);
    cell(row, `${u.templates}${u.needs_reenrolment ? " (re-enrol)" : ""}`);
    cell(row, u.locked ? `locked until ${when(u.locked_until)}` : `${u.failures} failures`, u.locked ? "locked" : "");
    cell(row, "", "recent").replaceChildren(...u.recent.map(decisionLine));
    const actions = cell(row, "", "actions");
    actions.append(button("Unlock", () => act(`unlocked ${u.user}`, "POST", "/v1/operator/unlock", {user: u.user}),
                          u.locked || u.failures > 0),
                   button("Delete", () => confirm(`Delete ${u.user} and their templates?`) &&
                          act(`deleted ${u.user}`, "DELETE", `/v1/users/${encodeURIComponent(u.user)}`), true));
  }
}

async function act(done, method, path, body) {
  try {
    await call(method, path, body);
    messageEl.textContent = done;
  } catch (e) {
    messageEl.textContent = e.message;
  }
  refresh();
}

async function refresh() {
  try {
    const view = await call("GET", "/v1/operator/overview");
    showUsers(view.users);
    serviceEl.textContent = `${view.users.length} users`;
    serviceEl.className = "state up";
  } catch (e) {
    serviceEl.textContent = e.message;
    serviceEl.className = "state down";
  }
}

async function enrol() {
  const user = document.getElementById("enrol-user").value.trim();
  const state = document.getElementById("enrol-state");
  if (!user) { state.textContent = "name the user first"; return; }
  const b = document.getElementById("enrol");
  b.disabled = true;
  state.textContent = `${user}: ask them to sign on the pad`;
  try {
    const r = await call("POST", "/v1/enrol", {user, replace: document.getElementById("enrol-replace").checked});
    state.textContent = `${user}: enrolled with ${r.templates} signatures`;
  } catch (e) {
    state.textContent = `${user}: ${e.message}`;
  }
  b.disabled = false;
  refresh();
}

document.getElementById("enrol").onclick = enrol;
refresh();
setInterval(refresh, REFRESH_MS);
