"""The page on hosts set up differently from the main suite's: one that generated its own key (the
sign-in says where it is), and one with a third party's provider installed (it appears in the
picker with its form, and Save & test works, with no change to the page)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_harness import GOOD_KEY, ServeProcess, shot, sign_in
from playwright.sync_api import expect

from ai_connector.testing import FakeServer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ai-connector-ollama"


@pytest.fixture(scope="module")
def generated_key_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """A host started with no key configured: `serve` writes one to a file and prints its path."""
    proc = ServeProcess(tmp_path_factory.mktemp("keyfile") / "home").start()
    yield proc
    proc.stop()


def test_the_sign_in_says_where_the_key_is_and_enter_submits(
    generated_key_host: ServeProcess, new_page
) -> None:
    key_file = generated_key_host.home / "api-key"
    assert f"cat {key_file}" in generated_key_host.output()  # what the server printed
    page = new_page(generated_key_host.url)
    expect(page.locator("#key-where")).to_contain_text(str(key_file))
    shot(page, "00-sign-in")
    sign_in(page, key_file.read_text().strip())  # types the key and presses Enter
    expect(page.get_by_role("button", name="Create connector")).to_be_visible()
    # The list's fetch done first: a reload would abort it, which the page fixture counts as a
    # refused request (it made this test fail now and then on a loaded machine).
    page.wait_for_load_state("networkidle")
    page.reload()  # the key is kept for the tab: still signed in
    expect(page.locator("#connectors")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key", exact=True)).to_be_visible()
    expect(page.locator("#connectors")).to_be_hidden()


@pytest.fixture(scope="module")
def ollama_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment seeing this one's packages, with the example plugin pip-installed
    into it (so this test environment itself stays as it was)."""
    env = tmp_path_factory.mktemp("ollama") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    site = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    Path(site, "outer-env.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    pip = [
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(env / "bin" / "python"),
        "--disable-pip-version-check",
    ]
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return env


@pytest.fixture(scope="module")
def ollama_host(ollama_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    home = tmp_path_factory.mktemp("ollama-host") / "home"
    proc = ServeProcess(
        home,
        {"AI_CONNECTOR_API_KEYS": "ollama-key-0123456789:all"},
        python=str(ollama_env / "bin" / "python"),
    )
    yield proc.start()
    proc.stop()


def test_a_third_party_provider_appears_in_the_picker_with_its_form(
    ollama_host: ServeProcess, fake: FakeServer, new_page
) -> None:
    page = new_page(ollama_host.url)
    sign_in(page, "ollama-key-0123456789")
    page.get_by_role("button", name="Create connector").click()
    page.get_by_label("Connector name", exact=True).fill("Local llama")
    page.get_by_label("Service", exact=True).fill("oll")
    expect(page.get_by_role("option")).to_have_text(["Ollama"])
    page.get_by_role("option", name="Ollama", exact=True).click()
    # its own schema, rendered: its fields, its descriptions, its default URL, its task types
    expect(page.get_by_label("Model ID", exact=True)).to_be_visible()
    page.locator("#more-box summary").click()
    expect(page.get_by_label("URL", exact=True)).to_have_value("http://localhost:11434/v1")
    expect(page.get_by_text("The base URL of the Ollama API")).to_be_visible()
    expect(page.get_by_label("Task type", exact=True).locator("option")).to_have_text(
        ["completion", "chat_completion", "text_embedding"]
    )
    # Ollama speaks OpenAI's API under /v1, so the OpenAI fake stands in for the server
    page.get_by_label("Model ID", exact=True).fill("gpt-4o-mini")
    page.get_by_label("URL", exact=True).fill(f"{fake.url}/v1")
    page.get_by_label("API Key", exact=True).fill(GOOD_KEY)
    shot(page, "19-third-party-ollama-form")
    page.get_by_role("button", name="Save & test").click()
    expect(page.locator("#result")).to_contain_text("succeeded")
    assert fake.requests[-1].path.startswith("/v1/")  # its Save & test reached the stand-in
