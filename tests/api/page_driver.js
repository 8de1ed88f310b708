// Drives the web page's script (core/ai_connector/api/static/index.html) in Node against a live
// API: a tiny DOM stand-in holds the elements the script uses, `fetch` goes to the live server.
// Usage: node page_driver.js <index.html> <base url> <api key> <field values as JSON>
"use strict";
const fs = require("fs");
const vm = require("vm");

const [htmlPath, base, apiKey, valuesJson] = process.argv.slice(2);
const values = JSON.parse(valuesJson);
const html = fs.readFileSync(htmlPath, "utf8");
const script = html.slice(html.indexOf("<script>") + 8, html.indexOf("</script>"));

const byId = new Map();
class El {
  constructor(tag) {
    this.tagName = tag.toUpperCase(); this.children = []; this.attrs = {}; this.dataset = {};
    this.style = {}; this._text = ""; this._value = undefined; this.checked = false; this.hidden = false;
    this.disabled = false; this._id = ""; const cls = new Set(); this._cls = cls;
    this.classList = { add: (c) => cls.add(c), remove: (c) => cls.delete(c), contains: (c) => cls.has(c) };
  }
  get id() { return this._id; }
  set id(v) { this._id = v; byId.set(v, this); }
  setAttribute(k, v) {
    this.attrs[k] = String(v);
    if (k === "id") this.id = String(v);
    if (k === "class") String(v).split(/\s+/).forEach((c) => this._cls.add(c));
    if (k === "type") this.type = String(v);
  }
  get value() {
    if (this._value !== undefined) return this._value;
    if (this.tagName === "SELECT") return this.children.length ? this.children[0].attrs.value : "";
    return "";
  }
  set value(v) { this._value = String(v); }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(""); }
  set textContent(v) { this._text = String(v); this.children = []; }
  append(...nodes) { for (const n of nodes) this.children.push(typeof n === "string" ? text(n) : n); }
  replaceChildren(...nodes) { this.children = []; this._text = ""; this.append(...nodes); }
  *walk() { yield this; for (const c of this.children) yield* c.walk(); }
}
function text(s) { const t = new El("#text"); t._text = s; return t; }
const STATIC = ["apikey", "connect", "keyerr", "form", "name", "service", "settings-box", "settings",
  "auth-box", "auth", "more-box", "more", "task", "cwl-box", "cwl", "save", "result", "list-panel", "list",
  "listresult"];
const roots = STATIC.map((id) => {
  const tag = id === "service" || id === "task" ? "select" : "div";
  const el = new El(tag); el.id = id; el.hidden = id === "form" || id === "list-panel"; return el;
});
function matches(el, sel) {
  if (sel === "[data-key]") return el.dataset.key !== undefined;
  if (sel === ".invalid") return el._cls.has("invalid");
  if (sel === ".err[id^=e-]") return el._cls.has("err") && el.id.startsWith("e-");
  throw new Error("selector not supported by the test DOM: " + sel);
}
const document = {
  getElementById: (id) => byId.get(id) || null,
  createElement: (tag) => new El(tag),
  querySelectorAll: (sel) => {
    const seen = new Set(), out = [];
    for (const r of roots) for (const el of r.walk()) if (!seen.has(el) && matches(el, sel)) { seen.add(el); out.push(el); }
    return out;
  },
};
const store = new Map();
const sandbox = {
  document, console, JSON, Object, Number, Error, Promise,
  sessionStorage: { getItem: (k) => store.get(k) ?? null, setItem: (k, v) => store.set(k, v) },
  fetch: (path, opts) => fetch(base + path, opts),
  encodeURIComponent,
};
vm.createContext(sandbox);
const api = vm.runInContext(script + "\n;({ connect, onService, saveAndTest, refreshList });", sandbox);

(async () => {
  const $ = (id) => byId.get(id);
  $("apikey").value = apiKey;
  await api.connect();
  if ($("form").hidden) {  // the key was refused: the page says why and shows no form
    console.log(JSON.stringify({ keyerr: $("keyerr").textContent, formHidden: true }));
    return;
  }
  const services = $("service").children.map((o) => o.attrs.value);
  $("service").value = values.service;
  api.onService();
  const groups = {};
  for (const g of ["settings", "auth", "more"]) {
    groups[g] = [...$(g).walk()].filter((e) => e.dataset.key !== undefined).map((e) => e.dataset.key);
  }
  $("name").value = values.name;
  for (const [key, value] of Object.entries(values.fields)) $("f-" + key).value = value;
  await api.saveAndTest({ preventDefault() {} });
  await api.refreshList();
  const listed = $("list").children.map((tr) => tr.children.map((td) => td.textContent));
  console.log(JSON.stringify({
    services, groups, keyerr: $("keyerr").textContent, result: $("result").textContent,
    moreHidden: $("more-box").hidden, cwlHidden: $("cwl-box").hidden, listed,
  }));
})().catch((e) => { console.error(e); process.exit(1); });
