"""`ai-connector create | list | get | update | delete | test | run | serve | rotate-key`: saved
connectors on the embedded default (SQLite under AI_CONNECTOR_HOME) or the configured store.

Every command opens a ConnectorService for its duration (`asyncio.run`). Secrets come from
`--secret key=value`, `--secret-env key=VAR` or, with `--secret key`, a prompt without echo, so they
stay out of shell history; no command ever prints one. Errors are one line (`error: ...`) and a
non-zero exit; `--debug` (or AI_CONNECTOR_DEBUG=1) adds the traceback.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import sys
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ai_connector.host.service import ConnectorService
    from ai_connector.host.settings import HostSettings
    from ai_connector.manager import ProviderRegistry
    from ai_connector.types import TestResult

__all__ = [
    "create",
    "delete",
    "get",
    "list_connectors",
    "rotate_key",
    "run",
    "serve",
    "test",
    "update",
]

T = TypeVar("T")


class CliError(Exception):
    """A problem the user can fix; printed as `error: <message>`."""


# ---------------------------------------------------------------------------------------------
# Plumbing: errors, the service, output


def _describe(exc: BaseException) -> str:
    """One readable line for any error (host errors carry Kibana's text, field errors included)."""
    from ai_connector.errors import ConfigValidationError

    if isinstance(exc, ConfigValidationError):
        text = "; ".join(f"{e.path}: {e.message}" if e.path else e.message for e in exc.errors)
    else:
        message = getattr(exc, "message", None)
        text = message if isinstance(message, str) and message else str(exc)
    return " ".join(text.split()) or type(exc).__name__  # one line


def _handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Adds `--debug` and turns any failure into `error: ...` on stderr and exit status 1."""

    @click.option("--debug", is_flag=True, help="Show the full traceback when something fails.")
    @functools.wraps(fn)
    def wrapper(*args: Any, debug: bool, **kwargs: Any) -> Any:
        debug = debug or os.environ.get("AI_CONNECTOR_DEBUG", "").lower() in ("1", "true", "yes")
        try:
            return fn(*args, **kwargs)
        except (click.exceptions.Exit, click.Abort, click.UsageError):
            raise
        except KeyboardInterrupt:
            click.echo("aborted", err=True)
            sys.exit(130)
        except Exception as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"error: {_describe(exc)}", err=True)
            sys.exit(1)

    return wrapper


def _load_registry() -> ProviderRegistry | None:
    """The providers the service uses; None lets the service load the installed plugins.
    (Tests replace this to run the CLI against a fake provider.)"""
    return None


def _settings() -> HostSettings:
    from ai_connector.host.settings import HostSettings

    return HostSettings.load()


def _with_service(work: Callable[[ConnectorService], Awaitable[T]]) -> T:
    """Open the service, run `work`, close it, all in one event loop."""
    from ai_connector.host.service import ConnectorService

    async def main() -> T:
        svc = await ConnectorService.open(_settings(), registry=_load_registry())
        try:
            return await work(svc)
        finally:
            await svc.aclose()

    return asyncio.run(main())


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def _progress(message: str) -> Iterator[None]:
    """A spinner on stderr while a long operation runs (only on a terminal)."""
    console = _stderr_console()
    if not console.is_terminal:
        yield
        return
    with console.status(message):
        yield


def _dump(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _stdout_console() -> Any:
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200, no_color=True)


# ---------------------------------------------------------------------------------------------
# Building connector documents from options


def parse_value(raw: str) -> Any:
    """`--config` values: JSON when they parse (numbers, booleans, objects), else the string."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _pairs(items: tuple[str, ...], option: str) -> list[tuple[str, str | None]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not key:
            raise CliError(f"{option} {item!r}: expected key=value")
        out.append((key, value if sep else None))
    return out


def _secret_label(provider: Any, key: str) -> str:
    if provider is None:
        return key
    from ai_connector.validation import flatten_fields

    for field_key, field, _ in flatten_fields(provider.auth_schema):
        if field_key == key:
            return f"{field.get('title', key)} ({key})"
    return key


def _collect_secrets(secret: tuple[str, ...], secret_env: tuple[str, ...], provider: Any) -> dict[str, str]:
    """Secrets from `--secret k=v`, `--secret k` (prompted without echo) and `--secret-env k=VAR`.
    Secrets stay strings: an API key of digits is still a key, not a number."""
    out: dict[str, str] = {}
    for key, value in _pairs(secret, "--secret"):
        if value is None:
            value = click.prompt(_secret_label(provider, key), hide_input=True, err=True)
        out[key] = value
    for key, var in _pairs(secret_env, "--secret-env"):
        if not var:
            raise CliError(f"--secret-env {key}: expected {key}=ENVIRONMENT_VARIABLE")
        value = os.environ.get(var)
        if value is None:
            raise CliError(f"environment variable {var} is not set (for --secret-env {key}={var})")
        out[key] = value
    return out


def _read_file(path: str) -> dict[str, Any]:
    """A connector document (Kibana's create body) from a JSON file, or stdin for `-`."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CliError(f"{path} must hold a JSON object (a connector: name, config, secrets)")
    return doc


def _provider_or_none(registry: Any, provider_id: str | None) -> Any:
    if registry is None or provider_id is None:
        return None
    try:
        return registry.get(provider_id)
    except LookupError:
        return None


def _registry_for_prompts() -> Any:
    registry = _load_registry()
    if registry is not None:
        return registry
    from ai_connector.manager import default_registry

    try:
        return default_registry()
    except Exception:
        return None


def _apply_options(
    doc: dict[str, Any],
    *,
    name: str | None,
    config: tuple[str, ...],
    task_config: tuple[str, ...],
    context_window_length: int | None,
    secrets: Mapping[str, str],
) -> dict[str, Any]:
    if name is not None:
        doc["name"] = name
    cfg = doc.setdefault("config", {})
    provider_config = cfg.setdefault("providerConfig", {})
    for key, value in _pairs(config, "--config"):
        provider_config[key] = parse_value(value or "")
    if task_config:
        task_cfg = cfg.setdefault("taskTypeConfig", {})
        for key, value in _pairs(task_config, "--task-config"):
            task_cfg[key] = parse_value(value or "")
    if context_window_length is not None:
        cfg["contextWindowLength"] = context_window_length
    if secrets:
        doc.setdefault("secrets", {}).setdefault("providerSecrets", {}).update(secrets)
    return doc


def _connector_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The options create and update share."""
    options = [
        click.option("--name", help="The connector's name."),
        click.option(
            "--config",
            "-c",
            multiple=True,
            metavar="KEY=VALUE",
            help="A setting (providerConfig), e.g. model_id=gpt-4o; repeatable. Dotted keys for nested ones.",
        ),
        click.option(
            "--secret",
            "-s",
            multiple=True,
            metavar="KEY[=VALUE]",
            help="A secret (providerSecrets); with no value you are prompted without echo.",
        ),
        click.option(
            "--secret-env",
            multiple=True,
            metavar="KEY=VAR",
            help="A secret read from the environment variable VAR.",
        ),
        click.option(
            "--task-config", multiple=True, metavar="KEY=VALUE", help="A task setting (taskTypeConfig)."
        ),
        click.option(
            "--context-window-length", type=click.IntRange(min=1), help="Tokens per request (chat)."
        ),
        click.option(
            "--from-file",
            "-f",
            "from_file",
            metavar="FILE",
            help="A JSON connector document ({name, config, secrets}); '-' reads stdin. Options override it.",
        ),
        click.option(
            "--test", "run_test", is_flag=True, help="Save & test: run the connector's test after saving."
        ),
        click.option(
            "--json", "as_json", is_flag=True, help="Print the connector (and test result) as JSON."
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


# ---------------------------------------------------------------------------------------------
# Rendering


def _print_connector(connector: Mapping[str, Any], last_test: Mapping[str, Any] | None = None) -> None:
    cfg = connector.get("config") or {}
    rows = [
        ("ID", connector.get("id")),
        ("Name", connector.get("name")),
        ("Service", cfg.get("provider", "-")),
        ("Task type", cfg.get("taskType", "-")),
        ("Inference ID", cfg.get("inferenceId", "-")),
    ]
    if cfg.get("contextWindowLength") is not None:
        rows.append(("Context window", cfg["contextWindowLength"]))
    rows.append(("Preconfigured", "yes" if connector.get("is_preconfigured") else "no"))
    if connector.get("is_missing_secrets"):
        rows.append(("Secrets", "missing: re-enter them with `ai-connector update`"))
    if last_test:
        when = last_test.get("at") or last_test.get("tested_at") or ""
        rows.append(("Last test", f"{last_test.get('status')} {when}".strip()))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key.ljust(width)}  {value}")
    for title, key in (("Settings", "providerConfig"), ("Task settings", "taskTypeConfig")):
        values = cfg.get(key) or {}
        if values:
            click.echo(f"{title}:")
            for k, v in values.items():
                click.echo(f"  {k} = {json.dumps(v, ensure_ascii=False)}")


def _report_saved(verb: str, saved: dict[str, Any], result: TestResult | None, as_json: bool) -> None:
    """Print a created/updated connector (and its Save & test result); exit 1 when the test failed."""
    if as_json:
        _dump(saved if result is None else {"connector": saved, "test": result.to_dict()})
    else:
        click.echo(f"{verb} connector {saved['name']!r} ({saved['id']})")
        if result is not None:
            _print_test(result, saved["name"])
    if result is not None and not result.ok:
        sys.exit(1)


def _print_test(result: TestResult | Mapping[str, Any], name: str) -> None:
    data = result if isinstance(result, Mapping) else result.to_dict()
    latency = f" in {data['latency_ms']:.0f} ms" if data.get("latency_ms") is not None else ""
    if data["status"] == "succeeded":
        click.echo(f"✓ {name}: connector test succeeded{latency}")
    else:
        why = f" ({data['failure']})" if data.get("failure") else ""
        click.echo(f"✗ {name}: connector test failed{why}{latency}: {data['message']}", err=True)


# ---------------------------------------------------------------------------------------------
# Commands


@click.command()
@click.option("--provider", "-p", help="The service, e.g. openai (see `ai-connector providers`).")
@click.option(
    "--task-type", "-t", help="chat_completion, completion, text_embedding, sparse_embedding or rerank."
)
@click.option("--id", "connector_id", help="Choose the connector's id (default: generated).")
@click.option("--inference-id", help="The inference endpoint id (default: {provider}-{taskType}-{random}).")
@_connector_options
@_handle_errors
def create(
    provider: str | None,
    task_type: str | None,
    connector_id: str | None,
    inference_id: str | None,
    name: str | None,
    config: tuple[str, ...],
    secret: tuple[str, ...],
    secret_env: tuple[str, ...],
    task_config: tuple[str, ...],
    context_window_length: int | None,
    from_file: str | None,
    run_test: bool,
    as_json: bool,
) -> None:
    """Create (save) a connector; with --test, Save & test.

    \b
    ai-connector create --name "My OpenAI" --provider openai --task-type chat_completion \\
        --config model_id=gpt-4o --secret api_key --test
    """
    doc: dict[str, Any] = _read_file(from_file) if from_file else {}
    doc.setdefault("connector_type_id", ".inference")
    cfg = doc.setdefault("config", {})
    if provider is not None:
        cfg["provider"] = provider
    if task_type is not None:
        cfg["taskType"] = task_type
    if inference_id is not None:
        cfg["inferenceId"] = inference_id
    missing = [
        opt
        for opt, present in (
            ("--name", name or doc.get("name")),
            ("--provider", cfg.get("provider")),
            ("--task-type", cfg.get("taskType")),
        )
        if not present
    ]
    if missing:
        raise CliError(f"missing {', '.join(missing)} (or give them in --from-file)")
    prov = _provider_or_none(_registry_for_prompts(), cfg.get("provider")) if secret else None
    secrets = _collect_secrets(secret, secret_env, prov)
    doc = _apply_options(
        doc,
        name=name,
        config=config,
        task_config=task_config,
        context_window_length=context_window_length,
        secrets=secrets,
    )
    doc.setdefault("secrets", {})

    async def work(svc: ConnectorService) -> tuple[dict[str, Any], TestResult | None]:
        with _progress("Saving connector…"):
            saved = await svc.create(doc, connector_id=connector_id, user="cli")
        result = None
        if run_test:
            with _progress(f"Testing {saved['name']}…"):
                result = await svc.test(saved["id"], user="cli")
        return saved, result

    saved, result = _with_service(work)
    _report_saved("Created", saved, result, as_json)


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print Kibana's connector list as JSON.")
@_handle_errors
def list_connectors(as_json: bool) -> None:
    """List saved and preconfigured connectors."""
    connectors = _with_service(lambda svc: svc.list(user="cli"))
    if as_json:
        _dump(connectors)
        return
    if not connectors:
        click.echo("No connectors yet. Create one with `ai-connector create` (see --help).")
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ID", "NAME", "SERVICE", "TASK TYPE", "NOTES"):
        table.add_column(column, overflow="fold")
    for c in connectors:
        cfg = c.get("config") or {}
        notes = []
        if c.get("is_preconfigured"):
            notes.append("preconfigured")
        if c.get("is_missing_secrets"):
            notes.append("missing secrets")
        table.add_row(
            c["id"], c["name"], cfg.get("provider", "-"), cfg.get("taskType", "-"), ", ".join(notes)
        )
    _stdout_console().print(table)


@click.command()
@click.argument("connector_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the connector as Kibana returns it.")
@_handle_errors
def get(connector_id: str, as_json: bool) -> None:
    """Show one connector (never its secrets)."""

    async def work(svc: ConnectorService) -> tuple[dict[str, Any], dict[str, Any]]:
        return await svc.get(connector_id, user="cli"), await svc.details(connector_id)

    connector, details = _with_service(work)
    if as_json:
        _dump(connector)
    else:
        _print_connector(connector, details.get("last_test"))


@click.command()
@click.argument("connector_id", metavar="ID")
@_connector_options
@_handle_errors
def update(
    connector_id: str,
    name: str | None,
    config: tuple[str, ...],
    secret: tuple[str, ...],
    secret_env: tuple[str, ...],
    task_config: tuple[str, ...],
    context_window_length: int | None,
    from_file: str | None,
    run_test: bool,
    as_json: bool,
) -> None:
    """Change a connector's name or settings. The service and task type are fixed and, as in
    Kibana, the secrets must be given again (prompted for when you give none on a terminal)."""
    from ai_connector.host.errors import BadRequestError

    from_doc = _read_file(from_file) if from_file else None

    async def work(svc: ConnectorService) -> tuple[dict[str, Any], TestResult | None]:
        current = await svc.get(connector_id, user="cli")
        doc: dict[str, Any]
        if from_doc is not None:
            doc = {"name": from_doc.get("name", current["name"]), "config": from_doc.get("config", {})}
            if "secrets" in from_doc:
                doc["secrets"] = from_doc["secrets"]
        else:
            doc = {"name": current["name"], "config": dict(current.get("config") or {})}
        cfg = doc["config"]
        current_cfg = current.get("config") or {}
        for key in ("provider", "taskType", "inferenceId"):
            if key in current_cfg:
                cfg.setdefault(key, current_cfg[key])
        cfg["providerConfig"] = dict(cfg.get("providerConfig") or {})
        provider = _provider_or_none(svc.registry, cfg.get("provider"))
        secrets = _collect_secrets(secret, secret_env, provider)
        if not secrets and not doc.get("secrets") and provider is not None and sys.stdin.isatty():
            for key in provider.auth_schema.get("required", ()):
                secrets[key] = click.prompt(_secret_label(provider, key), hide_input=True, err=True)
        doc = _apply_options(
            doc,
            name=name,
            config=config,
            task_config=task_config,
            context_window_length=context_window_length,
            secrets=secrets,
        )
        doc.setdefault("secrets", {})
        with _progress("Saving connector…"):
            try:
                saved = await svc.update(connector_id, doc, user="cli")
            except BadRequestError as exc:
                if not (doc.get("secrets") or {}).get("providerSecrets") and "secrets" in exc.message:
                    raise CliError(
                        f"{exc.message}. As in Kibana, an update must give the secrets again: "
                        "--secret KEY (prompted), --secret KEY=VALUE or --secret-env KEY=VAR"
                    ) from None
                raise
        result = None
        if run_test:
            with _progress(f"Testing {saved['name']}…"):
                result = await svc.test(connector_id, user="cli")
        return saved, result

    saved, result = _with_service(work)
    _report_saved("Updated", saved, result, as_json)


@click.command()
@click.argument("connector_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_handle_errors
def delete(connector_id: str, yes: bool) -> None:
    """Delete a connector. It cannot be recovered."""

    async def work(svc: ConnectorService) -> str:
        connector = await svc.get(connector_id, user="cli")
        label = f"{connector['name']!r} ({connector_id})"
        if not yes and not click.confirm(f"Delete connector {label}? It cannot be recovered.", err=True):
            raise click.Abort()
        await svc.delete(connector_id, user="cli")
        return label

    label = _with_service(work)
    click.echo(f"Deleted connector {label}")


@click.command()
@click.argument("connector_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the test result as JSON.")
@_handle_errors
def test(connector_id: str, as_json: bool) -> None:
    """Test a saved connector with Kibana's default request (exit status 1 when it fails)."""

    async def work(svc: ConnectorService) -> tuple[str, TestResult]:
        connector = await svc.get(connector_id, user="cli")
        with _progress(f"Testing {connector['name']}…"):
            return connector["name"], await svc.test(connector_id, user="cli")

    name, result = _with_service(work)
    if as_json:
        _dump({"connector_id": connector_id, **result.to_dict()})
    else:
        _print_test(result, name)
    if not result.ok:
        sys.exit(1)


def _read_prompt(prompt: str | None) -> str:
    if prompt is not None:
        return prompt
    stdin = sys.stdin
    if stdin.isatty():
        click.echo("Reading the prompt from stdin; end it with Ctrl-D.", err=True)
    text = stdin.read()
    if not text.strip():
        raise CliError("no prompt: give one as an argument or on stdin")
    return text.rstrip("\n")


def _raise_for_error(result: Mapping[str, Any]) -> Any:
    if result.get("status") == "error":
        detail = result.get("service_message")
        message = result.get("message") or "the connector failed"
        raise CliError(f"{message}: {detail}" if detail else message)
    return result.get("data")


@click.command()
@click.argument("connector_id", metavar="ID")
@click.argument("prompt", required=False)
@click.option("--system", help="A system message (chat).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Most tokens to generate (chat).")
@click.option("--temperature", type=float, help="Sampling temperature (chat).")
@click.option("--input-type", default="ingest", show_default=True, help="text_embedding's inputType.")
@click.option("--input", "inputs", multiple=True, help="A document to rerank against PROMPT; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON (no streaming).")
@_handle_errors
def run(
    connector_id: str,
    prompt: str | None,
    system: str | None,
    max_tokens: int | None,
    temperature: float | None,
    input_type: str,
    inputs: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run a connector on PROMPT (or stdin). Chat streams the answer to the terminal; embeddings
    and rerank print their JSON result."""
    text = _read_prompt(prompt)

    async def work(svc: ConnectorService) -> None:
        connector = await svc.get(connector_id, user="cli")
        task = (connector.get("config") or {}).get("taskType")
        if task == "chat_completion":
            messages = ([{"role": "system", "content": system}] if system else []) + [
                {"role": "user", "content": text}
            ]
            body: dict[str, Any] = {"messages": messages}
            if max_tokens is not None:
                body["max_tokens"] = max_tokens
            if temperature is not None:
                body["temperature"] = temperature
            if as_json:
                with _progress("Waiting for the model…"):
                    result = await svc.execute(connector_id, "unified_completion", {"body": body}, user="cli")
                _dump(_raise_for_error(result))
                return
            await _stream_chat(svc, connector_id, {"body": body})
            return
        if task == "completion":
            sub_action, params = "completion", {"input": text}
        elif task == "text_embedding":
            sub_action, params = "text_embedding", {"input": text, "inputType": input_type}
        elif task == "sparse_embedding":
            sub_action, params = "sparse_embedding", {"input": text}
        elif task == "rerank":
            if not inputs:
                raise CliError("rerank needs documents: give each with --input")
            sub_action, params = "rerank", {"query": text, "input": list(inputs)}
        else:
            raise CliError(f"connector {connector_id} has task type {task!r}, which `run` cannot drive")
        with _progress("Waiting for the model…"):
            result = await svc.execute(connector_id, sub_action, params, user="cli")
        data = _raise_for_error(result)
        if task == "completion" and not as_json:
            click.echo("\n".join(str(item.get("result", "")) for item in data or []))
        else:
            _dump(data)

    _with_service(work)


async def _stream_chat(svc: ConnectorService, connector_id: str, params: dict[str, Any]) -> None:
    stdout = sys.stdout
    wrote = False
    try:
        async for chunk in svc.stream(connector_id, params, user="cli"):
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if content:
                    stdout.write(content)
                    stdout.flush()
                    wrote = True
    finally:
        if wrote:
            stdout.write("\n")
            stdout.flush()


def _is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def _safe_database_url(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable database URL)"


def _with_api_keys(settings: Any, keys: dict[str, str]) -> Any:
    import dataclasses

    if dataclasses.is_dataclass(settings):
        return dataclasses.replace(settings, api_keys=keys)
    copy = getattr(settings, "model_copy", None)
    if copy is not None:
        return copy(update={"api_keys": keys})
    settings.api_keys = keys
    return settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5601, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.option(
    "--workers",
    type=click.IntRange(1, 512),
    default=None,
    help="Worker processes sharing the store [default: AI_CONNECTOR_WORKERS, else one per core].",
)
@_handle_errors
def serve(host: str, port: int, log_level: str, workers: int | None) -> None:
    """Serve the HTTP API (Kibana's connector routes) and the web page."""
    from ai_connector.api import serving
    from ai_connector.api.auth import ensure_api_key_file
    from ai_connector.host.service import ConnectorService

    settings = _settings()
    err = functools.partial(click.echo, err=True)

    async def preflight() -> None:
        # Open (and close) the service once before uvicorn starts: a broken configuration (an
        # invalid preconfigured connector, an unusable key or database) is then one error line
        # here, not a traceback from the server's startup.
        svc = await ConnectorService.open(settings, registry=_load_registry())
        await svc.aclose()

    asyncio.run(preflight())
    if not settings.api_keys:
        key, path, created = ensure_api_key_file(Path(settings.home))
        settings = _with_api_keys(settings, {key: "all"})
        if created:
            err(f"No API key configured: generated one with the `all` privilege in {path} (mode 0600).")
        else:
            err(f"No API key configured: using the `all` key stored in {path}.")
        err(f"Send it as `Authorization: ApiKey <key>`; read it with: cat {path}")
    else:
        err(f"API keys: {len(settings.api_keys)} configured (AI_CONNECTOR_API_KEYS / ai-connector.toml).")
    err(f"Data directory: {settings.home}")
    err(f"Store: {_safe_database_url(settings.database_url)}")
    err(f"License: {settings.license}")
    if not _is_loopback(host):
        err(
            f"warning: listening on {host} over plain HTTP; API keys cross the network in clear text. "
            "Put TLS in front of it."
        )
    shown = f"[{host}]" if ":" in host else host
    err(f"Web page: http://{shown}:{port}/   API docs: http://{shown}:{port}/api/docs")
    workers = workers or serving.default_workers(settings)
    err(f"Workers: {workers}")
    serving.run(
        settings,
        host=host,
        port=port,
        log_level=log_level,
        workers=workers,
        registry=_load_registry(),
    )


@click.command("rotate-key")
@click.option("--json", "as_json", is_flag=True, help="Print {total, successful, failed} as JSON.")
@_handle_errors
def rotate_key(as_json: bool) -> None:
    """Re-encrypt every connector's secrets with the current key (AI_CONNECTOR_ENCRYPTION_KEY),
    reading them with AI_CONNECTOR_DECRYPTION_ONLY_KEYS where needed."""

    async def work(svc: ConnectorService) -> dict[str, Any]:
        with _progress("Re-encrypting connectors…"):
            return await svc.rotate_key()

    counts = _with_service(work)
    if as_json:
        _dump(counts)
    else:
        click.echo(
            f"Re-encrypted {counts['successful']} of {counts['total']} connector(s); "
            f"{counts['failed']} failed."
        )
        if counts["failed"]:
            click.echo(
                "Connectors that failed could not be decrypted with any configured key: add the key they "
                "were saved with to AI_CONNECTOR_DECRYPTION_ONLY_KEYS, or re-enter their secrets with "
                "`ai-connector update`.",
                err=True,
            )
    if counts["failed"]:
        sys.exit(1)
