// The Connectors page: sign-in, the list, and the create / edit flyout with its tabs.
import { ApiError, api, session } from "./api.js";
import { $ } from "./dom.js";
import { editedConnector, initForm, openCreate, openEdit, setServices } from "./form.js";
import { initExecutionLog, showExecutionLog } from "./execlog.js";
import { initList, refreshList } from "./list.js";
import { initTestTab, showTestTab } from "./testtab.js";

const TABS = { config: "connector-form", test: "test-panel", log: "log-panel" };

function selectTab(name) {
  for (const [tab, panel] of Object.entries(TABS)) {
    $("tab-" + tab).setAttribute("aria-selected", String(tab === name));
    $(panel).hidden = tab !== name;
  }
  if (name === "test") showTestTab(editedConnector());
  if (name === "log") showExecutionLog(editedConnector());
}

function openFlyout(connector, tab) {
  if (connector) openEdit(connector); else openCreate();
  selectTab(tab || "config");
  $("backdrop").hidden = false;
  $("flyout").hidden = false;
  (connector ? $("tab-" + (tab || "config")) : $("name")).focus();
}

function closeFlyout() {
  $("flyout").hidden = true;
  $("backdrop").hidden = true;
}

function showKeyHint() {
  const file = document.querySelector('meta[name="ai-connector-key-file"]').content;
  $("key-where").textContent = file
    ? `The key is in ${file} on the host, as ai-connector serve printed when it started (cat ${file}).`
    : "Use a key from AI_CONNECTOR_API_KEYS (or api_keys in ai-connector.toml) on the host.";
}

async function signIn(event) {
  if (event) event.preventDefault();
  $("key-error").textContent = "";
  const typed = $("apikey").value.trim();
  if (typed) session.key = typed;
  if (!session.key) { $("key-error").textContent = "Enter the API key."; return; }
  let who;
  let services;
  try {
    who = await api("GET", "/internal/ai_connector/_whoami");
    services = await api("GET", "/internal/_inference/_services");
  } catch (e) {
    session.key = "";
    $("key-error").textContent = e instanceof ApiError && e.status === 401
      ? "That API key was not accepted." : e.message;
    return;
  }
  setServices(services, who.can_write, () => refreshList().catch(() => {}));
  initList(who.can_write, (c, tab) => openFlyout(c, tab));
  $("create").hidden = !who.can_write;
  $("privilege").textContent = who.can_write ? ""
    : "This key has the Read privilege: you can list, test and run connectors, not create, edit or delete them.";
  $("signin").hidden = true;
  $("signout").hidden = false;
  $("connectors").hidden = false;
  await refreshList();
}

function signOut() {
  session.key = "";
  window.location.reload();
}

function init() {
  showKeyHint();
  initForm();
  initTestTab();
  initExecutionLog();
  $("signin").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("create").addEventListener("click", () => openFlyout(null));
  $("flyout-close").addEventListener("click", closeFlyout);
  $("cancel").addEventListener("click", closeFlyout);
  $("backdrop").addEventListener("click", closeFlyout);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !$("flyout").hidden && $("service-options").hidden) closeFlyout();
  });
  for (const tab of Object.keys(TABS)) $("tab-" + tab).addEventListener("click", () => selectTab(tab));
  if (session.key) signIn();
}

init();
