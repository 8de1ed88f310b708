"""Plugin discovery through entry points, with every failure mode isolated and reported.

Each test lays out fake distributions (a `*.dist-info` with `entry_points.txt` plus the plugin module)
in a temporary directory on sys.path, exactly as pip would install a third party's plugin.
"""

from __future__ import annotations

import sys

import pytest
from fakedists import Dists, plugin_source

from ai_connector.errors import PluginLoadError
from ai_connector.manager import load_registry


def status(registry, name: str):
    return next(p for p in registry.plugins if p.name == name)


def test_a_good_third_party_plugin_is_discovered_with_its_distribution(dists: Dists) -> None:
    dists.add("acme-llm", "acme", "acme_llm_plugin", plugin_source("acme"))
    registry = load_registry()
    assert registry.get("acme").name == "Fake acme"
    info = status(registry, "acme")
    assert (info.distribution, info.version, info.status, info.providers) == (
        "acme-llm",
        "1.0",
        "active",
        ("acme",),
    )
    assert registry.plugin_of("acme") == "acme"


def test_a_plugin_that_fails_to_import_is_reported_and_the_rest_keep_working(dists: Dists) -> None:
    dists.add("good-llm", "good", "good_plugin", plugin_source("good"))
    dists.add("broken-llm", "broken", "broken_plugin", "raise ImportError('needs sdk-x, which is missing')\n")
    registry = load_registry()
    info = status(registry, "broken")
    assert info.status == "failed" and info.distribution == "broken-llm" and info.version == "1.0"
    assert "import failed: ImportError: needs sdk-x" in info.error
    assert "good" in registry


def test_a_hook_that_raises_is_reported_and_unregistered(dists: Dists) -> None:
    src = (
        "from ai_connector.plugin import hookimpl\n"
        "@hookimpl\ndef ai_connector_providers():\n    raise RuntimeError('boom')\n"
    )
    dists.add("raising-llm", "raising", "raising_plugin", src)
    registry = load_registry()
    info = status(registry, "raising")
    assert info.status == "failed" and "raised RuntimeError: boom" in info.error
    assert registry.plugin_manager.get_plugin("raising") is None


def test_an_invalid_schema_is_refused(dists: Dists) -> None:
    bad = '{"type": "object", "properties": {"x": {"type": "strng", "title": "X"}}}'
    dists.add("badschema-llm", "badschema", "badschema_plugin", plugin_source("badschema", settings=bad))
    registry = load_registry()
    info = status(registry, "badschema")
    assert info.status == "failed" and "settings_schema" in info.error
    assert "badschema" not in registry


def test_a_field_without_a_label_breaks_the_meta_schema(dists: Dists) -> None:
    bad = '{"type": "object", "properties": {"model_id": {"type": "string"}}}'
    dists.add("nolabel-llm", "nolabel", "nolabel_plugin", plugin_source("nolabel", settings=bad))
    info = status(load_registry(), "nolabel")
    assert info.status == "failed" and "meta-schema" in info.error


def test_an_unknown_task_type_is_refused(dists: Dists) -> None:
    dists.add(
        "task-llm", "tasky", "tasky_plugin", plugin_source("tasky", tasks="{'chat_completion', 'images'}")
    )
    info = status(load_registry(), "tasky")
    assert info.status == "failed" and "unknown task type" in info.error


def test_duplicate_ids_are_an_error_naming_both_distributions(dists: Dists) -> None:
    dists.add("first-llm", "first", "first_plugin", plugin_source("dupe"))
    dists.add("second-llm", "second", "second_plugin", plugin_source("dupe"))
    registry = load_registry()
    assert "dupe" not in registry  # nothing wins silently
    for name in ("first", "second"):
        info = status(registry, name)
        assert info.status == "failed"
        assert "first-llm" in info.error and "second-llm" in info.error


def test_a_misspelled_hook_is_caught_and_the_plugin_unregistered(dists: Dists) -> None:
    src = plugin_source("typo") + "\n@hookimpl\ndef ai_connector_provider():\n    return []\n"
    dists.add("typo-llm", "typo", "typo_plugin", src)
    registry = load_registry()
    info = status(registry, "typo")
    assert info.status == "failed" and "ai_connector_provider" in info.error
    assert registry.plugin_manager.get_plugin("typo") is None  # not left half-registered
    assert "typo" not in registry


def test_disabled_plugins_are_skipped_before_import(dists: Dists, monkeypatch: pytest.MonkeyPatch) -> None:
    dists.add("noisy-llm", "noisy", "noisy_plugin", "raise SystemExit('must never be imported')\n")
    dists.add("other-llm", "other", "other_plugin", plugin_source("other"))
    monkeypatch.setenv("AI_CONNECTOR_DISABLED_PLUGINS", "noisy, other-llm")
    registry = load_registry()
    assert status(registry, "noisy").status == "disabled"
    assert status(registry, "other").status == "disabled"  # by distribution name
    assert "noisy_plugin" not in sys.modules


def test_strict_mode_turns_a_failure_into_an_error(dists: Dists, monkeypatch: pytest.MonkeyPatch) -> None:
    dists.add("broken-llm", "broken", "broken_plugin", "raise ImportError('nope')\n")
    monkeypatch.setenv("AI_CONNECTOR_STRICT_PLUGINS", "1")
    monkeypatch.setenv("AI_CONNECTOR_DISABLED_PLUGINS", "ai-connector")  # only the broken one is tried
    with pytest.raises(PluginLoadError, match="broken-llm"):
        load_registry()


def test_unknown_provider_lookup_names_what_is_available(dists: Dists) -> None:
    dists.add("acme-llm", "acme", "acme_llm_plugin", plugin_source("acme"))
    with pytest.raises(LookupError, match=r"available: .*acme"):
        load_registry().get("nope")


def test_host_settings_come_from_declared_env_vars_and_config_wins() -> None:
    from ai_connector.manager import provider_host_settings
    from ai_connector.plugin import ChatChunk, Provider, TaskType, TestResult

    async def chat(e, r, c):
        yield ChatChunk(content="x")

    async def test(e, c):
        return TestResult(ok=True, message="ok")

    provider = Provider(
        id="es",
        name="ES",
        task_types={TaskType.CHAT_COMPLETION},
        settings_schema={"type": "object", "properties": {}},
        chat_completion_stream=chat,
        test=test,
        host_settings_env={"url": "X_ES_URL", "api_key": "X_ES_KEY"},
    )
    env = {"X_ES_URL": "https://env.test", "X_ES_KEY": "  ", "OTHER": "1"}
    assert provider_host_settings(provider, None, env) == {"url": "https://env.test"}
    assert provider_host_settings(provider, {"url": "https://file.test"}, env) == {"url": "https://file.test"}
