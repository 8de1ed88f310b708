"""Schema checks are recorded by content: a set that passed is not checked again, a failing one always is."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_connector import validation
from ai_connector.plugin import ChatChunk, Provider, TaskType, TestResult
from ai_connector.schemacache import reset_schema_check_cache


async def _chat(endpoint, request, ctx):
    yield ChatChunk(content="x")


async def _test(endpoint, ctx):
    return TestResult(ok=True, message="ok")


def provider(title: str = "Model ID", field_type: str = "string") -> Provider:
    schema = {"type": "object", "properties": {"model_id": {"type": field_type, "title": title}}}
    return Provider(
        id="cachey",
        name="Cachey",
        task_types={TaskType.CHAT_COMPLETION},
        settings_schema=schema,
        chat_completion_stream=_chat,
        test=_test,
    )


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AI_CONNECTOR_CACHE_DIR", str(tmp_path))
    reset_schema_check_cache()
    yield tmp_path
    reset_schema_check_cache()


def test_a_passing_schema_set_is_recorded_and_not_checked_again(cache_dir: Path, monkeypatch) -> None:
    assert validation.check_provider_schemas(provider()) == []
    assert (cache_dir / "schema-checks.json").exists()
    reset_schema_check_cache()  # a new process reads the record from disk

    def boom(*a, **k):
        raise AssertionError("checked again")

    monkeypatch.setattr(validation, "_schema_problems", boom)
    assert validation.check_provider_schemas(provider()) == []
    with pytest.raises(AssertionError, match="checked again"):
        validation.check_provider_schemas(provider(title="Model"))  # other content: checked in full


def test_a_failing_schema_is_reported_every_time(cache_dir: Path) -> None:
    bad = provider(field_type="strng")
    assert validation.check_provider_schemas(bad)
    reset_schema_check_cache()
    assert validation.check_provider_schemas(bad)


def test_the_cache_can_be_turned_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AI_CONNECTOR_CACHE_DIR", "off")
    reset_schema_check_cache()
    try:
        assert validation.check_provider_schemas(provider()) == []
        assert not list(tmp_path.iterdir())
    finally:
        reset_schema_check_cache()
