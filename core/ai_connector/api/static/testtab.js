// The flyout's Test tab: send a prompt to a saved connector. Chat streams tokens as they arrive;
// embeddings show their dimensions and first values; rerank shows the ranked documents; a failure
// shows its kind and the provider's message.
import { ApiError, api, connectorPath, executeStream } from "./api.js";
import { $, clearResult, showResult } from "./dom.js";

let connector = null;

export function showTestTab(c) {
  connector = c;
  const task = (c.config || {}).taskType;
  $("documents-box").hidden = task !== "rerank";
  $("prompt").labels[0].textContent = task === "rerank" ? "Query" : "Prompt";
  $("output").textContent = "";
  clearResult("run-status");
}

// Kibana's execute failure: `errorSource` says whose fault it is, `retry` whether trying again may help.
function failure(r) {
  const source = r.errorSource === "user" ? "the connector or the request" : "the host";
  const kind = `Run failed (${source}${r.retry ? "; retrying may help" : ""})`;
  return `${kind}: ${[r.message || "the connector failed", r.service_message].filter(Boolean).join(": ")}`;
}

function paramsFor(task, text) {
  if (task === "completion") return { subAction: "completion", subActionParams: { input: text } };
  if (task === "text_embedding") {
    return { subAction: "text_embedding", subActionParams: { input: text, inputType: "ingest" } };
  }
  if (task === "sparse_embedding") return { subAction: "sparse_embedding", subActionParams: { input: text } };
  if (task === "rerank") {
    const input = $("documents").value.split("\n").map((s) => s.trim()).filter(Boolean);
    return { subAction: "rerank", subActionParams: { query: text, input } };
  }
  return null;
}

function render(task, data) {
  if (task === "completion") return (data || []).map((d) => d.result).join("\n");
  if (task === "text_embedding") {
    const vector = (data && data[0] && data[0].embedding) || [];
    const first = vector.slice(0, 8).map((v) => Number(v).toFixed(4)).join(", ");
    return `${vector.length} dimensions\nfirst values: [${first}${vector.length > 8 ? ", …" : ""}]`;
  }
  if (task === "rerank") {
    const docs = $("documents").value.split("\n").map((s) => s.trim()).filter(Boolean);
    return (data || []).map((r, i) => {
      const text = r.text !== undefined ? r.text : docs[r.index];
      return `${i + 1}. ${text}  (score ${Number(r.relevance_score ?? r.score).toFixed(3)}, input ${r.index})`;
    }).join("\n");
  }
  return JSON.stringify(data, null, 2);
}

async function streamChat(text) {
  const params = { subAction: "unified_completion_stream",
    subActionParams: { body: { messages: [{ role: "user", content: text }] } } };
  let failed = null;
  const answer = await executeStream(connector.id, params, (event) => {
    if (event.error) { failed = event.error; return; }
    for (const choice of event.choices || []) {
      const piece = choice.delta && choice.delta.content;
      if (piece) $("output").textContent += piece;
    }
  });
  if (answer && answer.status === "error") throw new Error(failure(answer));
  if (failed) throw new Error(`Run failed (${failed.type}${failed.retry ? "; retrying may help" : ""}): ${failed.message}`);
}

async function run() {
  const task = (connector.config || {}).taskType;
  const text = $("prompt").value.trim();
  $("output").textContent = "";
  $("run").disabled = true;
  showResult("run-status", "info", "Running…");
  try {
    if (task === "chat_completion") {
      await streamChat(text);
    } else {
      const params = paramsFor(task, text);
      const result = await api("POST", connectorPath(connector.id, "/_execute"), { params });
      if (result.status === "error") throw new Error(failure(result));
      $("output").textContent = render(task, result.data);
    }
    clearResult("run-status");
    showResult("run-status", "ok", "Run succeeded.");
  } catch (e) {
    showResult("run-status", "bad", e instanceof ApiError ? `${e.status}: ${e.message}` : e.message);
  } finally {
    $("run").disabled = false;
  }
}

export function initTestTab() { $("run").addEventListener("click", run); }
