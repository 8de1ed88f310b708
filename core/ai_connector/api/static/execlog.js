// The flyout's Execution log tab: the place for Kibana's execution log of a connector (recent
// executions: outcome, duration, token usage). This host does not serve that log yet, so the tab
// says so; when the host gains the route, this module fetches and renders it.
import { $ } from "./dom.js";

export function showExecutionLog(connector) {
  $("log-body").textContent = `The execution log of “${connector.name}” is not available on this host yet.`;
}
