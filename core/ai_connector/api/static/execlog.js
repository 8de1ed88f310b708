// The flyout's Execution log tab: a connector's recent executions from Kibana's execution-log route
// (outcome, when, runs vs Save & test, duration, tokens, the error when one failed) and this host's
// usage summary line. The log is written in deferred batches, so the tab reloads when it opens, on
// its Refresh button, and every few seconds while it stays open.
import { ApiError, api } from "./api.js";
import { $, ago, el } from "./dom.js";

const LOGS = "/internal/actions/_global_connector_execution_logs";
const RANGE = "now-24h";
const PER_PAGE = 20;
let connector = null;
let loading = 0; // the newest load wins: a slower, older answer is dropped
let timer = 0;
const EVERY_MS = 3000;

// KQL string literal: a quoted value with `\` and `"` escaped.
const kqlString = (value) => `"${String(value).replace(/[\\"]/g, (c) => "\\" + c)}"`;

const number = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en"));
const millis = (ms) => (ms === null || ms === undefined ? "–"
  : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);

const count = (n, word) => `${number(n)} ${word}${n === 1 ? "" : "s"}`;

function summaryText(s) {
  if (!s.calls) return "No runs in the last 24 hours (the summary counts runs, not tests).";
  const errors = s.errors ? ` (${Object.entries(s.errors_by_kind).map(([k, n]) => `${k}: ${n}`).join(", ")})` : "";
  return `Last 24 h: ${count(s.calls, "run")}, ${count(s.errors, "error")}${errors}; `
    + `tokens ${number(s.input_tokens)} in / ${number(s.output_tokens)} out; `
    + `latency p50 ${millis(s.latency_ms.p50)}, p95 ${millis(s.latency_ms.p95)}.`;
}

// Kibana's message for a failure is "<event message> - <error>": the error is what the user needs.
function errorOf(entry) {
  const cut = entry.message.indexOf(" - ");
  return cut >= 0 ? entry.message.slice(cut + 3) : entry.message;
}

function rowsOf(entry) {
  const ok = entry.status === "success";
  const when = el("td", { title: entry.timestamp });
  when.append(el("time", { datetime: entry.timestamp }, ago(entry.timestamp)));
  const outcome = el("td");
  outcome.append(el("span", { class: "badge " + (ok ? "ok" : "bad") }, ok ? "succeeded" : "failed"));
  const tokens = entry.input_tokens === null && entry.output_tokens === null ? "–"
    : `${number(entry.input_tokens)} / ${number(entry.output_tokens)}`;
  const line = el("tr", { class: "log-entry" });
  line.append(when, outcome, el("td", {}, entry.action === "test" ? "Save & test" : "Run"),
    el("td", {}, millis(entry.duration_ms)), el("td", {}, tokens));
  if (ok) return [line];
  const detail = el("tr", { class: "log-error" });
  detail.append(el("td", { colspan: "5" }, errorOf(entry)));
  return [line, detail];
}

async function load() {
  const mine = ++loading;
  const id = connector.id;
  if (!$("log-rows").childElementCount) $("log-status").textContent = "Loading…";
  const body = {
    date_start: RANGE, filter: `kibana.action.id: ${kqlString(id)}`,
    page: 1, per_page: PER_PAGE, sort: [{ timestamp: { order: "desc" } }],
  };
  const summaryPath = `/internal/actions/connector/${encodeURIComponent(id)}/_execution_summary?date_start=${RANGE}`;
  try {
    const [log, summary] = await Promise.all([api("POST", LOGS, body), api("GET", summaryPath)]);
    if (mine !== loading) return;
    $("log-summary").textContent = summaryText(summary);
    $("log-rows").replaceChildren(...log.data.flatMap(rowsOf));
    $("log-table").hidden = log.data.length === 0;
    $("log-status").textContent = log.data.length === 0 ? "No executions in the last 24 hours yet."
      : `Showing the ${log.data.length} most recent of ${log.total} executions in the last 24 hours.`;
  } catch (e) {
    if (mine !== loading) return;
    $("log-status").textContent = e instanceof ApiError ? `${e.status}: ${e.message}` : e.message;
  }
}

const open = () => !$("log-panel").hidden && !$("flyout").hidden;

// Reload while the tab is on screen; stop once it is closed or another tab is chosen.
function poll() {
  clearTimeout(timer);
  if (!connector) return;
  load().finally(() => { if (open()) timer = setTimeout(poll, EVERY_MS); });
}

export function showExecutionLog(c) {
  connector = c;
  $("log-rows").replaceChildren();
  $("log-summary").textContent = "";
  $("log-table").hidden = true;
  $("log-status").textContent = "";
  poll();
}

export function initExecutionLog() { $("log-refresh").addEventListener("click", poll); }
