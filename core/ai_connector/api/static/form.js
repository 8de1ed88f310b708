// The create / edit flyout's Configuration tab. Save & test saves once, then edits that same
// connector: a failed test followed by a corrected key updates it, never duplicates it.
import { ApiError, api, connectorPath } from "./api.js";
import { $, clearResult, el, showResult } from "./dom.js";
import { appliesTo, fieldNode, groupOf, lookup, readValue, setValue } from "./fields.js";

const state = {
  services: [], // descriptors, EIS first
  service: null, // the chosen descriptor
  connector: null, // the saved connector being edited (null while creating)
  canWrite: false,
  onSaved: () => {},
};

export function setServices(services, canWrite, onSaved) {
  // Kibana lists the Elastic Inference Service first, then the others by name.
  state.services = [...services].sort((a, b) =>
    (b.service === "elastic") - (a.service === "elastic") || a.name.localeCompare(b.name));
  state.canWrite = canWrite;
  state.onSaved = onSaved;
}

export const serviceName = (id) => (state.services.find((s) => s.service === id) || { name: id }).name;

// ---- the service picker (a combobox over a filtered listbox) --------------------------------

function options(filter) {
  const q = filter.trim().toLowerCase();
  return state.services.filter((s) => !q || s.name.toLowerCase().includes(q) || s.service.includes(q));
}

function openPicker() {
  const list = $("service-options");
  const shown = options(state.service && $("service").value === state.service.name ? "" : $("service").value);
  list.replaceChildren(...shown.map((s, i) => {
    const li = el("li", { role: "option", id: "opt-" + s.service, "data-service": s.service,
      "aria-selected": String(i === 0) }, s.name);
    li.addEventListener("mousedown", (e) => { e.preventDefault(); chooseService(s.service); });
    return li;
  }));
  if (shown.length === 0) list.append(el("li", { class: "hint" }, "No service matches."));
  list.hidden = false;
  $("service").setAttribute("aria-expanded", "true");
}

function closePicker() {
  $("service-options").hidden = true;
  $("service").setAttribute("aria-expanded", "false");
}

function movePicker(step) {
  const items = [...$("service-options").querySelectorAll("[role=option]")];
  if (items.length === 0) return;
  const at = items.findIndex((li) => li.getAttribute("aria-selected") === "true");
  const next = items[(at + step + items.length) % items.length];
  items.forEach((li) => li.setAttribute("aria-selected", String(li === next)));
  $("service").setAttribute("aria-activedescendant", next.id);
  next.scrollIntoView({ block: "nearest" });
}

function pickerKey(e) {
  const open = !$("service-options").hidden;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    if (!open) openPicker(); else movePicker(e.key === "ArrowDown" ? 1 : -1);
  } else if (e.key === "Enter" && open) {
    e.preventDefault(); // choosing a service is not submitting the form
    const active = $("service-options").querySelector("[aria-selected=true]");
    if (active) chooseService(active.dataset.service);
  } else if (e.key === "Escape" && open) {
    e.stopPropagation(); // closes the list, not the flyout
    closePicker();
  }
}

function chooseService(id) {
  closePicker();
  const changed = !state.service || state.service.service !== id;
  state.service = state.services.find((s) => s.service === id);
  $("service").value = state.service.name;
  clearError("service");
  if (!changed) return;
  clearResult("result"); // the previous service's result says nothing about this one
  clearErrors();
  $("task").replaceChildren(...state.service.task_types.map((t) => el("option", { value: t }, t)));
  // The AI Connector is mostly a chat connector: start there when the service offers it.
  if (state.service.task_types.includes("chat_completion")) $("task").value = "chat_completion";
  renderFields({});
}

// ---- fields ----------------------------------------------------------------------------------

function currentValues() {
  const out = {};
  document.querySelectorAll("#fields [data-key]").forEach((input) => {
    out[input.dataset.key] = input.dataset.type === "bool" ? input.checked : input.value;
  });
  return out;
}

// Render the chosen service's fields for the chosen task type; `values` (by key) are kept.
function renderFields(values) {
  const svc = state.service;
  const task = $("task").value;
  const groups = { settings: [], auth: [], more: [] };
  for (const [key, field] of Object.entries(svc.configurations)) {
    if (!appliesTo(field, task)) continue;
    const node = fieldNode(key, field, clearError);
    const input = node.querySelector("[data-key]");
    if (key in values && values[key] !== undefined) setValue(input, values[key]);
    groups[groupOf(field)].push(node);
  }
  for (const [group, nodes] of Object.entries(groups)) {
    $(group).replaceChildren(...nodes);
    $(group + "-box").hidden = nodes.length === 0;
  }
  $("cwl-box").hidden = task !== "chat_completion"; // Kibana: chat completion only
  $("fields").hidden = false;
  applyMode();
}

function applyMode() {
  const editing = state.connector !== null;
  const readOnly = !state.canWrite;
  $("service").disabled = editing || readOnly;
  $("task").disabled = editing || readOnly;
  $("keep-box").hidden = !editing || readOnly;
  $("secrets-note").hidden = !(editing && readOnly);
  const changing = !editing || $("change-secrets").checked;
  $("auth").hidden = !changing;
  document.querySelectorAll("#connector-form input, #connector-form textarea").forEach((input) => {
    if (input.id !== "service") input.disabled = readOnly;
  });
  $("save").hidden = readOnly;
}

// ---- errors ----------------------------------------------------------------------------------

const PREFIX = /^(config\.providerConfig|secrets\.providerSecrets|config\.taskTypeConfig|config)\./;

const OWN_INPUTS = { name: "name", service: "service", contextWindowLength: "cwl" };
const inputFor = (key) => $(OWN_INPUTS[key] || "f-" + key);

function setError(key, message) {
  const input = inputFor(key);
  const line = $("e-" + key);
  if (!line) return false;
  line.textContent = message;
  if (input) { input.classList.add("invalid"); input.setAttribute("aria-invalid", "true"); }
  return true;
}

function clearError(key) {
  const input = inputFor(key);
  const line = $("e-" + key);
  if (line) line.textContent = "";
  if (input) { input.classList.remove("invalid"); input.removeAttribute("aria-invalid"); }
}

function clearErrors() {
  document.querySelectorAll("#connector-form .err").forEach((n) => { n.textContent = ""; });
  document.querySelectorAll("#connector-form .invalid").forEach((n) => {
    n.classList.remove("invalid"); n.removeAttribute("aria-invalid");
  });
}

// Put each field error on its field (opening a closed section that holds one) and move the focus
// to the first; return the errors no field on the form shows.
function markErrors(errors) {
  const rest = errors.filter((e) => !setError((e.path || "").replace(PREFIX, ""), e.message));
  const first = document.querySelector("#connector-form .invalid");
  if (first) {
    const section = first.closest("details");
    if (section) section.open = true;
    first.focus();
  }
  return rest;
}

function report(kind, text) {
  showResult("result", kind, text);
  $("result").scrollIntoView({ block: "nearest" });
}

// ---- collect, save, test ---------------------------------------------------------------------

function collect() {
  const providerConfig = {};
  const providerSecrets = {};
  const problems = [];
  const withSecrets = state.connector === null || $("change-secrets").checked;
  document.querySelectorAll("#fields [data-key]").forEach((input) => {
    const secret = input.dataset.sensitive === "1";
    if (secret && !withSecrets) return;
    try {
      const value = readValue(input);
      if (value !== undefined) (secret ? providerSecrets : providerConfig)[input.dataset.key] = value;
    } catch (e) {
      problems.push({ path: input.dataset.key, message: `${input.labels[0].textContent} ${e.message}` });
    }
  });
  const config = { providerConfig, taskTypeConfig: {} };
  if (!$("cwl-box").hidden && $("cwl").value.trim()) config.contextWindowLength = Number($("cwl").value);
  const body = { name: $("name").value.trim(), config };
  if (withSecrets) body.secrets = { providerSecrets };
  return { body, problems };
}

async function save() {
  const { body, problems } = collect();
  if (problems.length) { markErrors(problems); throw new Error("Correct the highlighted fields."); }
  if (state.connector === null) {
    body.connector_type_id = ".inference";
    Object.assign(body.config, { provider: state.service.service, taskType: $("task").value });
    if (!body.secrets) body.secrets = { providerSecrets: {} };
    return api("POST", "/api/actions/connector", body);
  }
  // The page's edit keeps the stored secrets unless the user chose to change them.
  return api("PUT", `/internal/ai_connector/connector/${encodeURIComponent(state.connector.id)}`, body);
}

export function describeTest(test) {
  const took = test.latency_ms != null ? ` in ${Math.round(test.latency_ms)} ms` : "";
  if (test.status === "succeeded") return { ok: true, text: `Connector test succeeded${took}.` };
  const kind = test.failure ? ` (${test.failure})` : "";
  return { ok: false, text: `Connector test failed${kind}${took}:\n${test.message}` };
}

async function saveAndTest(event) {
  event.preventDefault();
  if (!state.service) { setError("service", "Choose a service."); return; }
  $("save").disabled = true;
  clearResult("result");
  clearErrors();
  try {
    const saved = await save();
    const first = state.connector === null;
    state.connector = saved;
    if (first) {
      // From now on this flyout edits the connector it saved; what the user typed stays.
      $("change-secrets").checked = true;
      showEditing(saved);
    }
    state.onSaved();
    report("info", `Saved “${saved.name}”. Testing…`);
    const test = await api("POST", connectorPath(saved.id, "/_test"));
    const { ok, text } = describeTest(test);
    report(ok ? "ok" : "bad", text);
    state.onSaved();
  } catch (e) {
    const rest = e instanceof ApiError ? markErrors(e.fieldErrors) : [];
    const text = e instanceof ApiError && e.fieldErrors.length && rest.length === 0
      ? "Correct the highlighted fields." : e.message;
    showResult("result", "bad", text);
    // the focus is on the first bad field when there is one; else bring the message into view
    if (!document.activeElement.classList.contains("invalid")) $("result").scrollIntoView({ block: "nearest" });
  } finally {
    $("save").disabled = false;
  }
}

function showEditing(connector) {
  $("flyout-title").textContent = state.canWrite ? "Edit connector" : connector.name;
  $("tabs").hidden = false;
  applyMode();
}

// ---- opening the flyout ----------------------------------------------------------------------

export function openCreate() {
  state.connector = null;
  state.service = null;
  $("flyout-title").textContent = "Create connector";
  $("tabs").hidden = true;
  $("name").value = "";
  $("service").value = "";
  $("cwl").value = "";
  $("change-secrets").checked = false;
  $("fields").hidden = true;
  clearErrors();
  clearResult("result");
  applyMode();
}

export function openEdit(connector) {
  const cfg = connector.config || {};
  state.connector = connector;
  state.service = state.services.find((s) => s.service === cfg.provider) || null;
  $("name").value = connector.name;
  $("cwl").value = cfg.contextWindowLength || "";
  $("change-secrets").checked = Boolean(connector.is_missing_secrets);
  clearErrors();
  clearResult("result");
  if (state.service) {
    $("service").value = state.service.name;
    $("task").replaceChildren(el("option", { value: cfg.taskType }, cfg.taskType));
    const values = {};
    for (const key of Object.keys(state.service.configurations)) values[key] = lookup(cfg.providerConfig, key);
    renderFields(values);
  } else {
    $("service").value = cfg.provider || "";
    $("fields").hidden = true;
    showResult("result", "bad", `The service “${cfg.provider}” is not installed on this host.`);
  }
  if (connector.is_missing_secrets) showResult("result", "bad", "This connector's secrets are missing: enter them again.");
  showEditing(connector);
}

export function editedConnector() { return state.connector; }

export function initForm() {
  $("service").addEventListener("focus", openPicker);
  $("service").addEventListener("click", openPicker);
  $("service").addEventListener("input", openPicker);
  $("service").addEventListener("keydown", pickerKey);
  $("service").addEventListener("blur", () => {
    closePicker();
    if (state.service) $("service").value = state.service.name;
  });
  $("task").addEventListener("change", () => { renderFields(currentValues()); clearResult("result"); });
  $("change-secrets").addEventListener("change", applyMode);
  $("name").addEventListener("input", () => clearError("name"));
  $("cwl").addEventListener("input", () => clearError("contextWindowLength"));
  $("connector-form").addEventListener("submit", saveAndTest);
}
