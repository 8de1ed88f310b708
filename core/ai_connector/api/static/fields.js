// Renders a service's schema (Elasticsearch's `_inference/_services` descriptor) as Kibana's form
// does: required settings under "Settings", sensitive ones under "Authentication", optional ones
// under "More options", each field shown only for the task types it supports.
import { el } from "./dom.js";

export function groupOf(field) {
  if (field.sensitive) return "auth";
  return field.required ? "settings" : "more";
}

export function appliesTo(field, task) {
  return !field.supported_task_types || field.supported_task_types.length === 0
    || field.supported_task_types.includes(task);
}

// One field: label, description, input, error line; the input carries what collect() needs.
export function fieldNode(key, field, onChange) {
  const id = "f-" + key;
  const wrap = el("div", { class: "field" });
  const head = el("div", { class: "label-row" });
  head.append(el("label", { for: id }, field.label || key));
  if (!field.required) head.append(el("span", { class: "hint" }, "Optional")); // Kibana's labelAppend
  let input;
  if (field.type === "bool") {
    input = el("input", { type: "checkbox" });
  } else if (field.type === "map" || field.type === "list") {
    input = el("textarea", { rows: "3", placeholder: field.type === "map" ? '{"key": "value"}' : '["value"]' });
  } else {
    input = el("input", {
      type: field.sensitive ? "password" : field.type === "int" ? "number" : "text",
      autocomplete: field.sensitive ? "new-password" : "off",
    });
  }
  input.id = id;
  input.dataset.key = key;
  input.dataset.type = field.type || "str";
  if (field.sensitive) input.dataset.sensitive = "1";
  const described = ["e-" + key];
  const nodes = [head];
  if (field.description) {
    nodes.push(el("p", { class: "hint", id: "d-" + key }, field.description));
    described.unshift("d-" + key);
  }
  input.setAttribute("aria-describedby", described.join(" "));
  if (field.default_value !== undefined && field.default_value !== null) setValue(input, field.default_value);
  input.addEventListener(input.type === "checkbox" ? "change" : "input", () => onChange(key));
  nodes.push(input, el("p", { class: "err", id: "e-" + key }));
  wrap.append(...nodes);
  return wrap;
}

export function setValue(input, value) {
  if (input.dataset.type === "bool") input.checked = Boolean(value);
  else if (typeof value === "object" && value !== null) input.value = JSON.stringify(value);
  else input.value = value;
}

// The value an input holds, typed as its field says; undefined when blank. A list or map that is
// not JSON throws a message for that field.
export function readValue(input) {
  const type = input.dataset.type;
  if (type === "bool") return input.checked;
  const raw = input.value.trim();
  if (raw === "") return undefined;
  if (type === "int") return Number(raw);
  if (type === "map" || type === "list") {
    try { return JSON.parse(raw); } catch { throw new Error(type === "map" ? "must be a JSON object" : "must be a JSON list"); }
  }
  return raw;
}

// The value of a descriptor's dotted key ("a.b") in a saved, nested providerConfig.
export function lookup(obj, key) {
  if (obj && key in obj) return obj[key];
  let node = obj;
  for (const part of key.split(".")) {
    if (!node || typeof node !== "object" || !(part in node)) return undefined;
    node = node[part];
  }
  return node;
}
