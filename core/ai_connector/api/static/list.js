// The connectors list: name, service, task type, model, last test; search; test, edit, delete.
import { api, connectorPath } from "./api.js";
import { $, ago, el, showResult } from "./dom.js";
import { describeTest, serviceName } from "./form.js";

const state = { rows: [], lastTests: {}, canWrite: false, open: () => {} };

export function initList(canWrite, open) {
  state.canWrite = canWrite;
  state.open = open;
  $("search").addEventListener("input", render);
  $("confirm-delete").addEventListener("close", onConfirmClosed);
}

export async function refreshList() {
  const [rows, lastTests] = await Promise.all([
    api("GET", "/api/actions/connectors"),
    api("GET", "/internal/ai_connector/connectors/_last_tests").catch(() => ({})),
  ]);
  state.rows = rows;
  state.lastTests = lastTests || {};
  render();
}

const model = (c) => {
  const pc = (c.config && c.config.providerConfig) || {};
  return pc.model_id || pc.model || pc.deployment_id || pc.inference_id || "–";
};

function matches(c, q) {
  if (!q) return true;
  const cfg = c.config || {};
  return [c.name, c.id, cfg.provider, serviceName(cfg.provider), cfg.taskType, model(c)]
    .some((v) => typeof v === "string" && v.toLowerCase().includes(q));
}

function lastTestCell(c) {
  const t = state.lastTests[c.id];
  if (!t) return el("td", { class: "hint" }, c.is_preconfigured ? "preconfigured" : "not tested");
  const ok = t.status === "succeeded";
  const td = el("td");
  td.append(el("span", { class: "badge " + (ok ? "ok" : "bad") }, ok ? "succeeded" : "failed"));
  const when = t.at || t.tested_at;
  if (when) td.append(el("span", { class: "hint" }, " " + ago(when)));
  if (!ok && t.message) td.title = t.message;
  return td;
}

function button(text, label, onClick, kind = "secondary") {
  const b = el("button", { type: "button", class: kind + " small", "aria-label": label }, text);
  b.addEventListener("click", onClick);
  return b;
}

function render() {
  const q = $("search").value.trim().toLowerCase();
  const shown = state.rows.filter((c) => matches(c, q));
  $("list").replaceChildren(...shown.map((c) => {
    const cfg = c.config || {};
    const tr = el("tr", { "data-id": c.id });
    const name = el("td");
    const link = el("button", { type: "button", class: "link" }, c.name);
    link.addEventListener("click", () => state.open(c, "config"));
    name.append(link);
    if (c.is_missing_secrets) name.append(el("span", { class: "badge bad" }, "missing secrets"));
    const actions = el("td", { class: "row-actions" });
    actions.append(button("Test", `Test ${c.name}`, () => testRow(c)));
    if (state.canWrite && !c.is_preconfigured) {
      actions.append(button("Edit", `Edit ${c.name}`, () => state.open(c, "config")));
      actions.append(button("Delete", `Delete ${c.name}`, () => askDelete(c), "danger"));
    }
    tr.append(name, el("td", {}, serviceName(cfg.provider) || "–"), el("td", {}, cfg.taskType || "–"),
      el("td", {}, model(c)), lastTestCell(c), actions);
    return tr;
  }));
  $("empty").hidden = shown.length > 0;
  $("empty").textContent = state.rows.length ? "No connector matches the search." : "No connectors yet.";
}

async function testRow(c) {
  showResult("list-result", "info", `Testing “${c.name}”…`);
  try {
    const { ok, text } = describeTest(await api("POST", connectorPath(c.id, "/_test")));
    showResult("list-result", ok ? "ok" : "bad", `${c.name}: ${text}`);
  } catch (e) {
    showResult("list-result", "bad", `${c.name}: ${e.message}`);
  }
  await refreshList();
}

let pending = null;

function askDelete(c) {
  pending = c;
  $("confirm-text").textContent = `Delete “${c.name}”?`;
  $("confirm-delete").returnValue = "";
  $("confirm-delete").showModal();
}

async function onConfirmClosed() {
  const c = pending;
  pending = null;
  if (!c || $("confirm-delete").returnValue !== "delete") return;
  try {
    await api("DELETE", connectorPath(c.id));
    showResult("list-result", "ok", `Deleted “${c.name}”.`);
  } catch (e) {
    showResult("list-result", "bad", `${c.name}: ${e.message}`);
  }
  await refreshList();
}
