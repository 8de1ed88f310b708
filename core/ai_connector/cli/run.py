"""`ai-connector run`: a connector on a prompt; chat streams the answer to the terminal."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from ai_connector.cli.common import SETTINGS_EPILOG, CliError, dump, handle_errors, progress, with_service

if TYPE_CHECKING:
    from ai_connector.host.service import ConnectorService

__all__ = ["run"]


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


@click.command(epilog=SETTINGS_EPILOG)
@click.argument("connector_id", metavar="ID")
@click.argument("prompt", required=False)
@click.option("--system", help="A system message (chat).")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Most tokens to generate (chat).")
@click.option("--temperature", type=float, help="Sampling temperature (chat).")
@click.option("--input-type", default="ingest", show_default=True, help="text_embedding's inputType.")
@click.option("--input", "inputs", multiple=True, help="A document to rerank against PROMPT; repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON (no streaming).")
@handle_errors
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
                with progress("Waiting for the model…"):
                    result = await svc.execute(connector_id, "unified_completion", {"body": body}, user="cli")
                dump(_raise_for_error(result))
                return
            await _stream_chat(svc, connector_id, {"body": body})
            return
        params: dict[str, Any]
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
        with progress("Waiting for the model…"):
            result = await svc.execute(connector_id, sub_action, params, user="cli")
        data = _raise_for_error(result)
        if task == "completion" and not as_json:
            click.echo("\n".join(str(item.get("result", "")) for item in data or []))
        else:
            dump(data)

    with_service(work)


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
