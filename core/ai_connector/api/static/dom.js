// Small DOM helpers shared by the page's modules.
export const $ = (id) => document.getElementById(id);

export function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

// A result box: `kind` is "ok", "bad" or "info"; the text keeps its line breaks.
export function showResult(box, kind, text) {
  $(box).replaceChildren(el("div", { class: "result " + kind }, text));
}

export function clearResult(box) { $(box).replaceChildren(); }

export function ago(iso) {
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso || "";
  const s = Math.max(0, Math.round((Date.now() - then) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(then).toLocaleString();
}
