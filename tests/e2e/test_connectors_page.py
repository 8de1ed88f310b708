"""The Connectors page in headless Chromium against a real `ai-connector serve` and the OpenAI fake:
Kibana's flow as a user walks it. The labels are Kibana's words ("API key", "Create connector",
"Connector name", "Service", each schema field's own label, "Save & test"), which users and these
tests rely on."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_harness import ALL_KEY, GOOD_KEY, READ_KEY, ServeProcess, shot, sign_in
from playwright.sync_api import Page, expect

import ai_connector_elastic.testing as elastic_testing
import ai_connector_openai.testing as openai_testing
from ai_connector.testing import FakeResponse, FakeServer, RecordedRequest

SLOW_PIECES = ("Streaming", " one", " token", " at", " a", " time")


@pytest.fixture(scope="module", autouse=True)
def slow_stream(fake: FakeServer) -> None:
    """`/slow/v1/chat/completions` streams its pieces 1 s apart, so the page's output can be
    watched growing while the answer is still arriving."""

    def answer(request: RecordedRequest) -> FakeResponse:
        events = openai_testing.chat_stream_events(SLOW_PIECES, model=request.json()["model"])
        return dataclasses.replace(openai_testing.stream_response(events), chunk_delay=1.0)

    fake.add("POST", "/slow/v1/chat/completions", answer)


@pytest.fixture(autouse=True)
def no_connectors(host: ServeProcess) -> None:
    """Each test starts from an empty list."""
    with host.api() as api:
        for c in api.get("/api/actions/connectors").json():
            api.delete(f"/api/actions/connector/{c['id']}")


def create_via_api(
    host: ServeProcess, fake: FakeServer, name: str, task: str = "chat_completion", **changes: str
) -> dict:
    """An OpenAI connector aimed at the fake (`changes` override its providerConfig)."""
    config, _ = openai_testing.connector(fake.url, task)
    config.update(changes)
    body = {
        "name": name,
        "connector_type_id": ".inference",
        "config": {"provider": "openai", "taskType": task, "providerConfig": config},
        "secrets": {"providerSecrets": {"api_key": GOOD_KEY}},
    }
    with host.api() as api:
        resp = api.post("/api/actions/connector", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def saved_connectors(host: ServeProcess) -> list[dict[str, Any]]:
    with host.api() as api:
        return api.get("/api/actions/connectors").json()


def choose_service(page: Page, typed: str, name: str) -> None:
    page.get_by_label("Service", exact=True).fill(typed)
    page.get_by_role("option", name=name, exact=True).click()


def fill_openai(page: Page, fake: FakeServer, *, name: str, key: str, model: str = "gpt-4o-mini") -> None:
    page.get_by_role("button", name="Create connector").click()
    page.get_by_label("Connector name", exact=True).fill(name)
    choose_service(page, "open", "OpenAI")
    page.get_by_label("Model ID", exact=True).fill(model)
    page.locator("#more-box summary").click()  # "More options": the URL is optional (OpenAI's own)
    page.get_by_label("URL", exact=True).fill(f"{fake.url}/v1/chat/completions")
    page.get_by_label("API Key", exact=True).fill(key)


def row(page: Page, name: str):
    return page.locator("#list tr", has=page.get_by_role("button", name=name, exact=True))


def test_create_and_save_and_test_succeeds_and_lists_the_connector(
    host: ServeProcess, fake: FakeServer, new_page
) -> None:
    page = new_page(host.url)
    sign_in(page)
    shot(page, "01-empty-list")
    page.get_by_role("button", name="Create connector").click()
    # Kibana orders Elastic's service first, then the others by label (search_inference_endpoints'
    # ServiceGroupBySort: isElasticService(a) -> -1, else a.groupLabel < b.groupLabel).
    page.get_by_label("Service", exact=True).click()
    options = page.get_by_role("option")
    expect(options.first).to_have_text("Elastic Inference Service")
    names = options.all_inner_texts()
    assert names[1:] == sorted(names[1:], key=str.casefold) and "OpenAI" in names, names
    shot(page, "02-service-picker")
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Close this dialog").click()

    fill_openai(page, fake, name="My OpenAI", key=GOOD_KEY)
    for section in ("Settings", "Authentication"):
        expect(page.locator("legend", has_text=section)).to_be_visible()
    for section in ("More options", "Additional settings"):
        expect(page.locator("summary", has_text=section)).to_be_visible()
    expect(page.get_by_label("Task type", exact=True)).to_have_value("chat_completion")
    expect(page.get_by_label("Context window length", exact=True)).to_be_visible()
    expect(page.get_by_label("API Key", exact=True)).to_have_attribute("type", "password")  # masked
    shot(page, "03-create-flyout-filled")
    page.get_by_role("button", name="Save & test").click()
    expect(page.locator("#result")).to_contain_text("succeeded")
    expect(page.get_by_role("heading", name="Edit connector")).to_be_visible()
    shot(page, "04-save-and-test-succeeded")
    page.get_by_role("button", name="Close this dialog").click()

    line = row(page, "My OpenAI")
    expect(line).to_contain_text("OpenAI")
    expect(line).to_contain_text("chat_completion")
    expect(line).to_contain_text("gpt-4o-mini")
    expect(line).to_contain_text("succeeded")
    shot(page, "05-list-with-connector")
    assert [c["name"] for c in saved_connectors(host)] == ["My OpenAI"]
    assert fake.requests[-1].headers["authorization"] == f"Bearer {GOOD_KEY}"


def test_a_wrong_key_shows_the_provider_message_and_fixing_it_updates_the_same_connector(
    host: ServeProcess, fake: FakeServer, new_page
) -> None:
    page = new_page(host.url)
    sign_in(page)
    fill_openai(page, fake, name="Fix me", key="sk-wrong-key-0000000000000000")
    page.get_by_role("button", name="Save & test").click()
    result = page.locator("#result")
    expect(result).to_contain_text("failed")
    expect(result).to_contain_text("Incorrect API key provided")  # the provider's own message
    shot(page, "06-save-and-test-wrong-key")

    page.get_by_label("API Key", exact=True).fill(GOOD_KEY)
    page.get_by_role("button", name="Save & test").click()
    expect(result).to_contain_text("succeeded")
    page.get_by_role("button", name="Close this dialog").click()
    expect(row(page, "Fix me")).to_have_count(1)
    expect(page.locator("#list tr")).to_have_count(1)
    assert [c["name"] for c in saved_connectors(host)] == ["Fix me"]  # one connector, never two


def test_field_errors_sit_on_their_fields_and_clear_when_the_field_changes(
    host: ServeProcess, new_page
) -> None:
    page = new_page(host.url)
    sign_in(page)
    page.get_by_role("button", name="Create connector").click()
    page.get_by_label("Connector name", exact=True).fill("Incomplete")
    choose_service(page, "OpenAI", "OpenAI")
    page.locator("#more-box summary").click()
    page.get_by_label("URL", exact=True).fill("ftp://example.invalid/chat")
    page.get_by_role("button", name="Save & test").click()
    expect(page.locator("#e-model_id")).to_have_text("Model ID is required")
    expect(page.locator("#e-api_key")).to_have_text("API Key is required")
    expect(page.locator("#e-url")).to_contain_text("URL")
    expect(page.get_by_label("Model ID", exact=True)).to_have_attribute("aria-invalid", "true")
    shot(page, "07-field-errors")

    page.get_by_label("Model ID", exact=True).fill("gpt-4o-mini")
    expect(page.locator("#e-model_id")).to_have_text("")
    expect(page.get_by_label("Model ID", exact=True)).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#e-api_key")).to_have_text("API Key is required")  # the others stay
    page.get_by_label("API Key", exact=True).press_sequentially("k")
    expect(page.locator("#e-api_key")).to_have_text("")
    assert saved_connectors(host) == []


def test_task_type_switches_the_fields_and_a_new_service_drops_the_old_result(
    host: ServeProcess, fake: FakeServer, new_page
) -> None:
    page = new_page(host.url)
    sign_in(page)
    fill_openai(page, fake, name="Switcher", key="sk-wrong-key-0000000000000000")
    expect(page.get_by_label("Dimensions", exact=True)).to_have_count(0)  # text_embedding only
    page.get_by_label("Task type", exact=True).select_option("text_embedding")
    expect(page.get_by_label("Dimensions", exact=True)).to_be_visible()
    expect(page.get_by_label("Context window length", exact=True)).to_be_hidden()  # chat completion only
    expect(page.get_by_label("Model ID", exact=True)).to_have_value("gpt-4o-mini")  # typed values survive
    options = page.get_by_label("Task type", exact=True).locator("option")
    expect(options).to_have_text(["completion", "chat_completion", "text_embedding"])  # OpenAI's only
    shot(page, "08-task-type-text-embedding")
    page.get_by_label("Task type", exact=True).select_option("chat_completion")
    page.get_by_role("button", name="Save & test").click()
    expect(page.locator("#result")).to_contain_text("failed")
    # a second try in the same flyout edits the saved connector: service and task type are now fixed
    expect(page.get_by_label("Service", exact=True)).to_be_disabled()
    expect(page.get_by_label("Task type", exact=True)).to_be_disabled()

    page.get_by_role("button", name="Close this dialog").click()
    page.get_by_role("button", name="Create connector").click()
    page.get_by_label("Connector name", exact=True).fill("Other")
    choose_service(page, "open", "OpenAI")
    page.get_by_role("button", name="Save & test").click()
    expect(page.locator("#result")).to_contain_text("Correct the highlighted fields")
    choose_service(page, "anthro", "Anthropic")
    expect(page.locator("#result")).to_be_empty()  # the previous service's result is gone
    expect(page.locator("#e-model_id")).to_have_count(1)
    expect(page.locator("#e-model_id")).to_have_text("")


def test_chat_streams_tokens_as_they_arrive_and_embeddings_show_dimensions(
    host: ServeProcess, fake: FakeServer, new_page
) -> None:
    create_via_api(host, fake, "Streamer", url=f"{fake.url}/slow/v1/chat/completions")
    create_via_api(host, fake, "Embedder", "text_embedding")
    page = new_page(host.url)
    sign_in(page)
    page.get_by_role("button", name="Streamer", exact=True).click()
    page.get_by_role("tab", name="Test").click()
    page.get_by_label("Prompt", exact=True).fill("Say something")
    page.get_by_role("button", name="Run").click()
    output = page.locator("#output")
    expect(output).to_contain_text("Streaming one")
    # seen mid-stream: the first tokens are shown while the last ones have not arrived yet
    assert "a time" not in output.inner_text()
    expect(page.locator("#run-status")).to_contain_text("Running")
    shot(page, "09-test-tab-streaming")
    expect(output).to_have_text("".join(SLOW_PIECES))
    expect(page.locator("#run-status")).to_contain_text("succeeded")
    page.get_by_role("button", name="Close this dialog").click()

    page.get_by_role("button", name="Embedder", exact=True).click()
    page.get_by_role("tab", name="Test").click()
    page.get_by_role("button", name="Run").click()
    expect(output).to_contain_text("4 dimensions")
    expect(output).to_contain_text("first values: [0.1000, 0.1100")
    shot(page, "10-test-tab-embedding")


def test_a_failed_run_shows_the_failure_kind_and_the_provider_message(
    host: ServeProcess, fake: FakeServer, new_page
) -> None:
    create_via_api(host, fake, "Bad model", model_id="gpt-nonexistent")
    page = new_page(host.url)
    sign_in(page)
    page.get_by_role("button", name="Bad model", exact=True).click()
    page.get_by_role("tab", name="Test").click()
    page.get_by_role("button", name="Run").click()
    status = page.locator("#run-status")
    expect(status).to_contain_text("Run failed (the connector or the request")  # errorSource "user"
    expect(status).to_contain_text("The model `gpt-nonexistent` does not exist")  # OpenAI's own words
    shot(page, "11-test-tab-failure")


def test_edit_keeps_service_task_type_and_secrets_unless_asked(
    host: ServeProcess, fake: FakeServer, new_page
) -> None:
    created = create_via_api(host, fake, "Editable")
    page = new_page(host.url)
    sign_in(page)
    page.get_by_role("button", name="Edit Editable").click()
    expect(page.get_by_role("heading", name="Edit connector")).to_be_visible()
    expect(page.get_by_label("Service", exact=True)).to_be_disabled()
    expect(page.get_by_label("Service", exact=True)).to_have_value("OpenAI")
    expect(page.get_by_label("Task type", exact=True)).to_be_disabled()
    expect(page.get_by_label("Model ID", exact=True)).to_have_value("gpt-4o-mini")
    expect(page.get_by_label("API Key", exact=True)).to_be_hidden()  # not asked again
    shot(page, "12-edit-flyout")
    page.get_by_label("Connector name", exact=True).fill("Edited")
    page.get_by_role("button", name="Save & test").click()
    expect(page.locator("#result")).to_contain_text("succeeded")  # the stored key still works

    page.get_by_label("Change the stored secrets", exact=True).check()
    page.get_by_label("API Key", exact=True).fill("sk-now-wrong-000000000000000")
    page.get_by_role("button", name="Save & test").click()
    expect(page.locator("#result")).to_contain_text("Incorrect API key provided")
    names = [(c["id"], c["name"]) for c in saved_connectors(host)]
    assert names == [(created["id"], "Edited")]


def test_delete_asks_first(host: ServeProcess, fake: FakeServer, new_page) -> None:
    create_via_api(host, fake, "Doomed")
    create_via_api(host, fake, "Keeper")
    page = new_page(host.url)
    sign_in(page)
    page.get_by_label("Search connectors", exact=True).fill("doo")
    expect(page.locator("#list tr")).to_have_count(1)
    page.get_by_role("button", name="Delete Doomed").click()
    dialog = page.get_by_role("dialog", name="Delete connector?")
    expect(dialog).to_contain_text("cannot be recovered")
    shot(page, "13-delete-confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(row(page, "Doomed")).to_have_count(1)
    page.get_by_role("button", name="Delete Doomed").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(row(page, "Doomed")).to_have_count(0)
    page.get_by_label("Search connectors", exact=True).fill("")
    expect(row(page, "Keeper")).to_have_count(1)
    assert [c["name"] for c in saved_connectors(host)] == ["Keeper"]


def test_a_read_key_lists_and_tests_but_cannot_create_edit_or_delete(
    host: ServeProcess, fake: FakeServer, new_page
) -> None:
    create_via_api(host, fake, "Shared")
    page = new_page(host.url)
    sign_in(page, READ_KEY)
    expect(page.locator("#privilege")).to_contain_text("Read privilege")
    expect(page.get_by_role("button", name="Create connector")).to_be_hidden()
    expect(page.get_by_role("button", name="Edit Shared")).to_have_count(0)
    expect(page.get_by_role("button", name="Delete Shared")).to_have_count(0)
    page.get_by_role("button", name="Test Shared").click()
    expect(page.locator("#list-result")).to_contain_text("succeeded")
    page.get_by_role("button", name="Shared", exact=True).click()
    expect(page.get_by_label("Connector name", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Save & test")).to_be_hidden()
    expect(page.locator("#secrets-note")).to_have_text("The secrets are stored encrypted and never shown.")
    expect(page.get_by_label("API Key", exact=True)).to_be_hidden()
    shot(page, "14-read-key-view")


def test_a_wrong_key_is_refused_on_the_sign_in(host: ServeProcess, new_page) -> None:
    page = new_page(host.url)
    page.get_by_label("API key", exact=True).fill("not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#key-error")).to_have_text("That API key was not accepted.")
    expect(page.locator("#key-where")).to_contain_text("AI_CONNECTOR_API_KEYS")
    expect(page.locator("#connectors")).to_be_hidden()


def test_the_page_is_usable_at_phone_width(host: ServeProcess, fake: FakeServer, new_page) -> None:
    create_via_api(host, fake, "Pocket")
    page = new_page(host.url, phone=True)
    shot(page, "15-phone-sign-in")
    sign_in(page)
    line = row(page, "Pocket")
    for action in ("Test", "Edit", "Delete"):
        expect(line.get_by_role("button", name=f"{action} Pocket")).to_be_in_viewport(ratio=1)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    shot(page, "16-phone-list")
    page.get_by_role("button", name="Create connector").click()
    choose_service(page, "open", "OpenAI")
    expect(page.get_by_role("button", name="Save & test")).to_be_visible()
    box = page.locator("#flyout").bounding_box()
    assert box is not None and box["width"] <= 390
    shot(page, "17-phone-create-flyout")


def test_the_favicon_and_the_static_files_are_served(host: ServeProcess, new_page) -> None:
    page = new_page("about:blank")
    response = page.goto(host.url)
    # The host's own policy (api/guards.py): scripts only from the host, no inline script; the page
    # loaded under it with no console error and no refused request (the fixture fails on either).
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy and response.headers["x-frame-options"] == "DENY"
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    response = page.request.get(host.url + icon)
    assert response.status == 200 and response.headers["content-type"].startswith("image/svg+xml")
    html = page.request.get(host.url + "/").text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), "an inline style or event handler"


def test_api_docs_render_with_no_internet(host: ServeProcess, new_page) -> None:
    outside: list[str] = []
    page = new_page("about:blank")
    page.route(
        re.compile(r"^(?!http://127\.0\.0\.1:).*"),
        lambda route: (outside.append(route.request.url), route.abort()),
    )
    page.goto(host.url + "/api/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("ai-connector")
    expect(
        page.locator(".opblock-summary-path", has_text="/api/actions/connector_types").first
    ).to_be_visible()
    shot(page, "18-api-docs")
    assert outside == []
    assert ALL_KEY not in page.content()


@pytest.fixture(scope="module")
def elasticsearch() -> Iterator[FakeServer]:
    """The Elasticsearch inference API the Elastic Inference Service provider calls."""
    with FakeServer() as server:
        elastic_testing.FakeElasticsearch(server)  # installs its routes
        yield server


def test_rerank_shows_the_ranked_documents(host: ServeProcess, elasticsearch: FakeServer, new_page) -> None:
    config, secrets = elastic_testing.connector(
        elasticsearch.url, "rerank", secret=elastic_testing.DEFAULT_API_KEY
    )
    body = {
        "name": "Ranker",
        "connector_type_id": ".inference",
        "config": {"provider": "elastic", "taskType": "rerank", "providerConfig": config},
        "secrets": {"providerSecrets": secrets},
    }
    with host.api() as api:
        assert api.post("/api/actions/connector", json=body).status_code == 200
    page = new_page(host.url)
    sign_in(page)
    expect(row(page, "Ranker")).to_contain_text("Elastic Inference Service")
    page.get_by_role("button", name="Ranker", exact=True).click()
    page.get_by_role("tab", name="Test").click()
    page.get_by_label("Query", exact=True).fill("search company")
    page.get_by_label("Documents (one per line)").fill("a red fox\nElastic is a search company\nrain")
    page.get_by_role("button", name="Run").click()
    output = page.locator("#output")
    expect(output).to_contain_text("1. Elastic is a search company")
    lines = output.inner_text().splitlines()
    assert [line.split("  ")[0] for line in lines] == [
        "1. Elastic is a search company",
        "2. a red fox",
        "3. rain",
    ]
    shot(page, "20-test-tab-rerank")


def test_the_execution_log_tab_shows_the_test_and_the_run(
    host: ServeProcess, fake: FakeServer, new_page
) -> None:
    page = new_page(host.url)
    sign_in(page)
    fill_openai(page, fake, name="Logged", key=GOOD_KEY)
    page.get_by_role("button", name="Save & test").click()
    expect(page.locator("#result")).to_contain_text("succeeded")
    page.get_by_role("tab", name="Test").click()
    page.get_by_role("button", name="Run").click()
    expect(page.locator("#run-status")).to_contain_text("Run succeeded")

    # The log is flushed in batches (AI_CONNECTOR_EXECUTION_LOG_FLUSH_INTERVAL, 1 s): the tab loads
    # on opening and reloads while open, and expect() retries until both rows have landed.
    page.get_by_role("tab", name="Execution log").click()
    rows = page.locator("#log-rows tr.log-entry")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Run")  # newest first: the run, then the Save & test
    expect(rows.nth(1)).to_contain_text("Save & test")
    expect(rows.nth(0).locator("td").nth(4)).to_have_text(
        re.compile(r"^[1-9]\d* / [1-9]\d*$")
    )  # the fake's usage
    for i in range(2):
        expect(rows.nth(i)).to_contain_text("succeeded")
        expect(rows.nth(i)).to_contain_text(re.compile(r"\d+ ms|\d+\.\d\d s"))
    expect(page.locator("#log-rows tr.log-error")).to_have_count(0)
    expect(page.locator("#log-summary")).to_contain_text(re.compile(r"Last 24 h: 1 run, 0 errors"))
    expect(page.locator("#log-summary")).to_contain_text("latency p50")
    shot(page, "21-execution-log")


def test_the_execution_log_tab_fits_a_phone(host: ServeProcess, fake: FakeServer, new_page) -> None:
    create_via_api(host, fake, "Pocket log")
    page = new_page(host.url, phone=True)
    sign_in(page)
    page.get_by_role("button", name="Test Pocket log").click()
    expect(page.locator("#list-result")).to_contain_text("succeeded")
    page.get_by_role("button", name="Pocket log", exact=True).click()
    page.get_by_role("tab", name="Execution log").click()
    expect(page.locator("#log-rows tr.log-entry")).to_have_count(1)  # the list's test, once flushed
    for column in ("When", "Outcome", "Kind", "Duration", "Tokens in / out"):
        expect(page.get_by_role("columnheader", name=column)).to_be_visible()
    table = page.locator("#log-table").bounding_box()
    assert table is not None and table["width"] <= 390
    expect(page.get_by_role("button", name="Refresh")).to_be_in_viewport(ratio=1)
    shot(page, "22-phone-execution-log")
