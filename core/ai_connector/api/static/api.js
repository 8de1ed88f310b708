// The page's one door to the HTTP API: Kibana's connector routes with `Authorization: ApiKey`, the
// kbn-xsrf header on every mutating call, and server-sent events read as they arrive.
const KEY = "ai-connector-key";

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ""; },
  set key(value) { if (value) sessionStorage.setItem(KEY, value); else sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, data, fallback) {
    super((data && data.message) || fallback || `HTTP ${status}`);
    this.status = status;
    this.data = data;
  }
  // Kibana's 400 lists each bad field: [{path, field, label, message}]
  get fieldErrors() { return (this.data && this.data.attributes && this.data.attributes.errors) || []; }
}

function headers(method) {
  const h = { Authorization: "ApiKey " + session.key, "Content-Type": "application/json" };
  if (method !== "GET") h["kbn-xsrf"] = "true";
  return h;
}

export async function api(method, path, body) {
  const resp = await fetch(path, {
    method, headers: headers(method), body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!resp.ok) throw new ApiError(resp.status, data, resp.statusText);
  return data;
}

export const connectorPath = (id, suffix = "") => `/api/actions/connector/${encodeURIComponent(id)}${suffix}`;

// `_execute` with a streaming sub-action: calls onEvent(data) for each SSE `data:` line as it
// arrives. A connector that fails before its first token answers JSON instead; that is returned.
export async function executeStream(id, params, onEvent) {
  const resp = await fetch(connectorPath(id, "/_execute"), {
    method: "POST", headers: headers("POST"), body: JSON.stringify({ params }),
  });
  const type = resp.headers.get("content-type") || "";
  if (!resp.ok || !type.startsWith("text/event-stream")) {
    const text = await resp.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = null; }
    if (!resp.ok) throw new ApiError(resp.status, data, resp.statusText);
    return data;
  }
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of block.split("\n")) {
        if (!line.startsWith("data:")) continue;
        const payload = line.slice(5).trim();
        if (payload === "[DONE]") return null;
        try { onEvent(JSON.parse(payload)); } catch (e) { if (!(e instanceof SyntaxError)) throw e; }
      }
    }
  }
  return null;
}
