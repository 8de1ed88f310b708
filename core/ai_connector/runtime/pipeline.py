"""`Runtime`: runs a validated connector's sub-actions through its provider, the same way for every
provider: params validated, context window checked, rate limit waited for, the call retried when it
may help, its stream turned into OpenAI chunks (or aggregated as Kibana does), errors typed and
redacted, and cancellation closing the upstream request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random as _random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ai_connector.context import CallContext, transport_error
from ai_connector.errors import (
    AIConnectorError,
    HostNotAllowedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ResponseTooLargeError,
)
from ai_connector.http import build_client
from ai_connector.redaction import RedactingLogger, Redactor
from ai_connector.runtime.aggregate import ChatAggregator, answer_body_cap
from ai_connector.runtime.ratelimit import RateLimiter
from ai_connector.runtime.retry import RetryPolicy
from ai_connector.runtime.settings import RuntimeSettings
from ai_connector.runtime.subactions import STREAM_SUB_ACTION, parse_params, sub_action
from ai_connector.runtime.temperature import with_connector_temperature
from ai_connector.runtime.tokens import check_context_window
from ai_connector.runtime.transport import resolve
from ai_connector.runtime.watchdog import StreamWatchdog
from ai_connector.types import (
    ChatChunk,
    ChatRequest,
    ChatStreamFn,
    FailureKind,
    InferenceEndpoint,
    TaskType,
    TestResult,
)
from ai_connector.urlpolicy import UrlPolicy

if TYPE_CHECKING:
    from ai_connector.manager import ProviderRegistry
    from ai_connector.validation import ValidatedConnector

__all__ = ["Runtime"]

_log = logging.getLogger("ai_connector.runtime")
T = TypeVar("T")

_SECRET_KEY_WORDS = ("key", "secret", "token", "password", "credential", "auth")
_HOOKS = ("on_save", "on_delete")
_MODEL_SETTINGS = ("model_id", "model", "deployment_id")


def _host_secret_values(settings: Mapping[str, Any]) -> list[str]:
    """Values of the host's provider settings whose keys look secret (api_key, password, ...)."""
    out: list[str] = []
    for key, value in settings.items():
        if isinstance(value, Mapping):
            out += _host_secret_values(value)
        elif isinstance(value, str) and any(w in str(key).lower() for w in _SECRET_KEY_WORDS):
            out.append(value)
    return out


async def _first_chunk(
    call: ChatStreamFn, endpoint: InferenceEndpoint, request: ChatRequest, ctx: CallContext
) -> tuple[ChatChunk | None, AsyncIterator[ChatChunk]]:
    """One attempt at a chat stream: the provider's iterator and its first chunk (None: empty)."""
    chunks = call(endpoint, request, ctx)
    try:
        first = await chunks.__anext__()
    except StopAsyncIteration:
        return None, chunks
    except BaseException:
        await _aclose(chunks)
        raise
    return first, chunks


async def _aclose(chunks: AsyncIterator[Any]) -> None:
    """Close a provider's chunk iterator now (an async generator, or any iterator with `aclose`)."""
    close = getattr(chunks, "aclose", None)
    if close is not None:
        await close()


class _Prepared:
    """Per connector object: its endpoint, redactor and logger, the provider's host settings, its
    rate-limit bucket key and limit, and the model its streams are labelled with by default."""

    __slots__ = ("connector", "endpoint", "host_settings", "logger", "model", "rate_key", "redactor", "rpm")

    def __init__(
        self,
        connector: ValidatedConnector,
        endpoint: InferenceEndpoint,
        redactor: Redactor,
        logger: RedactingLogger,
        host_settings: Mapping[str, Any],
        rate_key: str,
        rpm: float | None,
        model: str,
    ) -> None:
        self.connector = connector
        self.endpoint = endpoint
        self.redactor = redactor
        self.logger = logger
        self.host_settings = host_settings
        self.rate_key = rate_key
        self.rpm = rpm
        self.model = model


class Runtime:
    """The host's inference pipeline; one per host, sharing one pooled HTTP client.

    `clock`, `sleep` and `random` are injectable so tests drive backoff and the rate limiter
    without waiting (they default to `time.monotonic`, `asyncio.sleep` and `random.random`).
    """

    def __init__(
        self,
        registry: ProviderRegistry,
        settings: RuntimeSettings | None = None,
        *,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        self.registry = registry
        self.settings = settings or RuntimeSettings()
        self.url_policy = UrlPolicy(self.settings.allowed_hosts)
        self.transport = resolve(self.settings.transport)
        self._timeouts: dict[float, httpx.Timeout] = {}
        self.client = client or build_client(
            self.url_policy,
            transport=self.transport,
            timeout=self._timeout(self.settings.timeout),
            max_connections=self.settings.max_connections,
            max_connections_per_host=self.settings.max_connections_per_host,
        )
        self.retry_policy = RetryPolicy(
            max_attempts=self.settings.max_attempts, max_retry_wait=self.settings.max_retry_wait
        )
        self._clock = clock or time.monotonic
        self._sleep = sleep or asyncio.sleep
        self._random = random or _random.random
        self.rate_limiter = RateLimiter(clock=self._clock, sleep=self._sleep)
        self._host_secrets = {
            pid: _host_secret_values(values) for pid, values in self.settings.provider_settings.items()
        }
        self._redaction: dict[tuple[str, tuple[str, ...]], tuple[Redactor, RedactingLogger]] = {}
        self._prepared_by_id: dict[int, _Prepared] = {}

    # -- context ------------------------------------------------------------------------------------
    def _timeout(self, seconds: float) -> httpx.Timeout:
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            timeout = httpx.Timeout(seconds, connect=min(self.settings.connect_timeout, seconds))
            if len(self._timeouts) < 64:
                self._timeouts[seconds] = timeout
        return timeout

    def _redaction_for(self, connector: ValidatedConnector) -> tuple[Redactor, RedactingLogger]:
        provider_id = connector.provider.id
        key = (provider_id, tuple(connector.secrets.values_for_redaction()))
        hit = self._redaction.get(key)
        if hit is None:
            redactor = Redactor([*key[1], *self._host_secrets.get(provider_id, ())])
            logger = RedactingLogger(logging.getLogger(f"ai_connector.provider.{provider_id}"), redactor)
            if len(self._redaction) >= 512:
                self._redaction.clear()
            hit = self._redaction[key] = (redactor, logger)
        return hit

    def _prepared(self, connector: ValidatedConnector) -> _Prepared:
        """What every call of this connector object needs, derived once (connectors are frozen; a
        changed connector is a new object)."""
        hit = self._prepared_by_id.get(id(connector))
        if hit is not None and hit.connector is connector:  # held by the entry: its id is not reused
            return hit
        redactor, logger = self._redaction_for(connector)
        key, rpm = self._rate_limit_of(connector)
        settings = connector.config.get("providerConfig") or {}
        model = next((settings[k] for k in _MODEL_SETTINGS if isinstance(settings.get(k), str)), None)
        prepared = _Prepared(
            connector,
            connector.endpoint(),
            redactor,
            logger,
            self.settings.provider_settings.get(connector.provider.id, {}),
            key,
            rpm,
            model or connector.provider.id,
        )
        if len(self._prepared_by_id) >= 1024:
            self._prepared_by_id.clear()
        self._prepared_by_id[id(connector)] = prepared
        return prepared

    def context(self, connector: ValidatedConnector, *, timeout: float | None = None) -> CallContext:
        """The CallContext a call of `connector` gets: the shared client, this host's timeout, URL
        policy, size cap and settings for the provider, and a redactor that knows its secrets."""
        return self._context(self._prepared(connector), timeout)

    def _context(self, prepared: _Prepared, timeout: float | None) -> CallContext:
        return CallContext(
            self.client,
            prepared.connector.provider.id,
            self._timeout(self.settings.timeout if timeout is None else timeout),
            self.url_policy,
            self.settings.max_response_bytes,
            prepared.redactor,
            prepared.host_settings,
            prepared.logger,
            self.settings.max_sse_line_bytes,
            self.settings.max_sse_event_bytes,
        )

    # -- public calls -------------------------------------------------------------------------------
    async def execute(
        self,
        connector: ValidatedConnector,
        sub_action_name: str,
        params: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> Any:
        """Run a Kibana sub-action and return Kibana's answer for it (see `runtime.subactions`).

        `unified_completion_stream` returns the async iterator of chunk dicts (Kibana returns the
        raw stream). Raises ConfigValidationError (bad params), UnsupportedTaskError,
        ContextWindowExceededError, HostNotAllowedError, or a redacted ProviderError.
        """
        spec = sub_action(sub_action_name, connector.provider, connector.task_type)
        request = with_connector_temperature(parse_params(spec, params), connector)
        budget = self.settings.timeout if timeout is None else timeout
        if spec.streaming:
            return self._stream(connector, request, budget)
        prepared = self._prepared(connector)
        ctx = self._context(prepared, budget)
        if spec.task_type is TaskType.CHAT_COMPLETION:
            check_context_window(request, connector.context_window_length)
            return await self._guarded(ctx, budget, self._complete_chat(prepared, request, ctx, budget))
        call = connector.provider.call_for(spec.task_type)
        assert call is not None  # sub_action() checked it
        result = await self._guarded(
            ctx, budget, self._attempts(prepared, ctx, budget, call, prepared.endpoint, request, ctx)
        )
        return spec.to_answer(result)

    def stream(
        self, connector: ValidatedConnector, params: Mapping[str, Any], *, timeout: float | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """`unified_completion_stream`: OpenAI `chat.completion.chunk` dicts, errors (bad params
        included) raised from the iterator. Closing the iterator (or cancelling its consumer) closes
        the upstream request. The iterator is the pipeline's own generator: nothing wraps it."""
        budget = self.settings.timeout if timeout is None else timeout
        return self._stream(connector, None, budget, params)

    async def test(self, connector: ValidatedConnector, *, timeout: float | None = None) -> TestResult:
        """*Save & test*: the provider's test routine for the connector's task type, bounded by the
        timeout and the rate limit; always a TestResult (never an exception), its message redacted."""
        budget = self.settings.timeout if timeout is None else timeout
        ctx = self.context(connector, timeout=budget)
        provider = connector.provider
        start = time.perf_counter()

        def failed(message: str, failure: FailureKind, status: int | None = None) -> TestResult:
            return TestResult(
                ok=False,
                message=ctx.redact(message),
                latency_ms=(time.perf_counter() - start) * 1000.0,
                failure=failure,
                status_code=status,
            )

        prepared = self._prepared(connector)
        routine = provider.test
        assert routine is not None  # Provider.__post_init__ always sets it
        try:
            async with asyncio.timeout(budget) as scope:
                await self.rate_limiter.acquire(prepared.rate_key, prepared.rpm, budget)
                result = await routine(prepared.endpoint, ctx)
        except TimeoutError:
            if not scope.expired():
                raise
            return failed(f"{provider.id}: no answer within {budget:g} seconds", FailureKind.TIMEOUT)
        except ProviderError as exc:
            return failed(exc.message, exc.kind, exc.status)
        except HostNotAllowedError as exc:
            return failed(str(exc), FailureKind.HOST_NOT_ALLOWED)
        except AIConnectorError as exc:
            return failed(str(exc), FailureKind.CONFIG)
        except Exception as exc:
            ctx.logger.warning("test of %s failed unexpectedly", provider.id, exc_info=exc)
            return failed(
                f"{provider.name}: the test failed unexpectedly ({type(exc).__name__}: {exc})",
                FailureKind.PROVIDER_ERROR,
            )
        if not isinstance(result, TestResult):
            return failed(f"{provider.name}: the test routine returned no TestResult", FailureKind.CONFIG)
        return dataclasses.replace(result, message=ctx.redact(result.message))

    async def run_hook(self, connector: ValidatedConnector, hook: str, *, is_update: bool = False) -> None:
        """Run the provider's lifecycle hook `on_save` (before a connector is stored; raising aborts
        the save) or `on_delete` (after it is deleted), bounded by the timeout; no-op when absent.
        Errors are raised redacted, as Kibana's preSaveHook/postDeleteHook rethrow."""
        if hook not in _HOOKS:
            raise ValueError(f"unknown hook {hook!r}: use 'on_save' or 'on_delete'")
        fn = getattr(connector.provider, hook)
        if fn is None:
            return
        ctx = self.context(connector)
        endpoint = self._prepared(connector).endpoint
        coro = fn(endpoint, ctx, is_update) if hook == "on_save" else fn(endpoint, ctx)
        await self._guarded(ctx, self.settings.timeout, coro)

    async def aclose(self) -> None:
        """Close the shared HTTP client and its connections."""
        await self.client.aclose()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the pipeline -------------------------------------------------------------------------------
    def _rate_limit_of(self, connector: ValidatedConnector) -> tuple[str, float | None]:
        """(bucket key, requests per minute or None): the connector's own limit, else the
        provider's default for the task type."""
        key = connector.connector_id or connector.inference_id
        limit = (connector.config.get("providerConfig") or {}).get("rate_limit")
        rpm = limit.get("requests_per_minute") if isinstance(limit, Mapping) else None
        if not rpm:
            rpm = connector.provider.default_requests_per_minute.get(connector.task_type)
        return key, rpm or None

    def _error_out(self, exc: BaseException, ctx: CallContext) -> BaseException:
        """The exception to raise to the caller for `exc`: typed and redacted."""
        if isinstance(exc, ProviderError):
            return exc.redacted(ctx.redact)
        if isinstance(exc, HostNotAllowedError):
            return HostNotAllowedError(ctx.redact(exc.url))
        if isinstance(exc, AIConnectorError):
            return exc
        if isinstance(exc, httpx.HTTPError):
            return self._transport_error(exc, ctx)
        ctx.logger.warning("provider %s failed unexpectedly", ctx.provider_id, exc_info=exc)
        return ProviderError(
            ctx.redact(f"{ctx.provider_id}: the provider failed unexpectedly ({type(exc).__name__}: {exc})"),
            provider=ctx.provider_id,
        )

    @staticmethod
    def _transport_error(exc: httpx.HTTPError, ctx: CallContext) -> ProviderError:
        """An httpx error that escaped a plugin (it used the client directly), typed like CallContext's."""
        try:
            url = str(exc.request.url)
        except RuntimeError:
            url = "the provider"
        return transport_error(exc, url, ctx.provider_id, ctx.redact)

    async def _guarded(self, ctx: CallContext, budget: float, work: Awaitable[T]) -> T:
        """Await `work` within `budget` seconds (`asyncio.timeout`); every error leaves typed and
        redacted. A TimeoutError of the work's own is not this call's deadline and is re-raised.
        The replacement error is raised outside the `except` block so that it does not carry the
        original (unredacted) one as its `__context__`.
        """
        out: BaseException
        try:
            async with asyncio.timeout(budget) as scope:
                return await work
        except TimeoutError:
            if not scope.expired():
                raise
            out = ProviderTimeoutError(
                f"{ctx.provider_id}: no answer within {budget:g} seconds", provider=ctx.provider_id
            )
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            out = self._error_out(exc, ctx)
            if out is exc:
                raise
        raise out

    async def _attempts(
        self,
        prepared: _Prepared,
        ctx: CallContext,
        budget: float,
        attempt: Callable[..., Awaitable[T]],
        *args: Any,
    ) -> T:
        """Run `attempt(*args)` under the rate limit, retrying retryable failures within the attempt
        budget and the call's deadline (see `runtime.retry`)."""
        deadline = self._clock() + budget
        key, rpm = prepared.rate_key, prepared.rpm
        number = 0
        last: ProviderError | None = None
        while True:
            number += 1
            try:
                await self.rate_limiter.acquire(key, rpm, deadline - self._clock())
            except RateLimitError:
                if last is not None:
                    raise last from None  # the provider's own error says more than our queue
                raise
            try:
                return await attempt(*args)
            except httpx.HTTPError as exc:  # a plugin that used the client directly
                error: ProviderError = self._transport_error(exc, ctx)
            except ProviderError as exc:
                error = exc
            delay = self.retry_policy.delay_after(error, number, self._random)
            if delay is None or self._clock() + delay >= deadline:
                raise error
            ctx.logger.info(
                "%s attempt %d failed (%s); retrying in %.2fs",
                ctx.provider_id,
                number,
                ctx.redact(error.message),
                delay,
            )
            last = error
            await self._sleep(delay)

    async def _open_chat(
        self, prepared: _Prepared, request: ChatRequest, ctx: CallContext, budget: float
    ) -> tuple[ChatChunk | None, AsyncIterator[ChatChunk]]:
        """Start the provider's chat stream and read its first chunk, retrying until then only."""
        call = prepared.connector.provider.chat_completion_stream
        assert call is not None  # sub_action() checked it
        endpoint = prepared.endpoint
        return await self._attempts(prepared, ctx, budget, _first_chunk, call, endpoint, request, ctx)

    def _watchdog(self, ctx: CallContext) -> StreamWatchdog:
        """The idle and total clocks of a stream that has started (see `runtime.watchdog`)."""
        settings = self.settings
        return StreamWatchdog(settings.stream_idle_timeout, settings.max_stream_duration, ctx.provider_id)

    @staticmethod
    def _stream_identity(prepared: _Prepared, request: ChatRequest) -> tuple[str, str, int]:
        """(id, model, created) for the chunks of one stream: a fresh `chatcmpl-` id, the request's
        model or the connector's, and the wall-clock start."""
        # A label, not a secret: the seeded PRNG, not a system call per stream.
        stream_id = f"chatcmpl-{_random.getrandbits(96):024x}"
        return stream_id, request.model or prepared.model, int(time.time())

    async def _complete_chat(
        self, prepared: _Prepared, request: ChatRequest, ctx: CallContext, budget: float
    ) -> dict[str, Any]:
        """`unified_completion`: the stream, aggregated as Kibana does (or the provider's non-streamed
        answer, folded by the same aggregator, when it has one)."""
        stream_id, model, created = self._stream_identity(prepared, request)
        aggregator = ChatAggregator(
            id=stream_id,
            model=model,
            created=created,
            max_tokens=request.max_tokens,
            provider=ctx.provider_id,
            max_size=self.settings.max_aggregated_bytes,
        )
        if prepared.connector.provider.chat_completion is not None:
            return await self._complete_whole(prepared, request, ctx, budget, aggregator)
        first, chunks = await self._open_chat(prepared, request, ctx, budget)
        watchdog = self._watchdog(ctx)
        try:
            if first is not None:
                aggregator.add(first)
                while (chunk := await watchdog.next(chunks)) is not None:
                    aggregator.add(chunk)
        except ProviderError:
            if aggregator.length_reached:  # Kibana stops at the `length` chunk: that error comes first
                raise aggregator.token_limit_error() from None
            raise
        finally:
            watchdog.close()
            await _aclose(chunks)
        return aggregator.result()

    async def _complete_whole(
        self,
        prepared: _Prepared,
        request: ChatRequest,
        ctx: CallContext,
        budget: float,
        aggregator: ChatAggregator,
    ) -> dict[str, Any]:
        """`unified_completion` from the provider's non-streamed answer: retried like any whole call
        (until the answer arrives, within the same deadline as the aggregated stream), its body capped
        to hold what the aggregator may accept, its chunks folded exactly as a stream's."""
        call = prepared.connector.provider.chat_completion
        assert call is not None
        settings = self.settings
        ctx.max_response_bytes = answer_body_cap(settings.max_aggregated_bytes, settings.max_response_bytes)
        try:
            chunks = await self._attempts(prepared, ctx, budget, call, prepared.endpoint, request, ctx)
        except ResponseTooLargeError:  # the body past answer_body_cap: the aggregate's limit, named so
            raise aggregator.too_large_error() from None
        for chunk in chunks:
            aggregator.add(chunk)
        return aggregator.result()

    async def _stream(
        self,
        connector: ValidatedConnector,
        request: ChatRequest | None,
        budget: float,
        params: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """`unified_completion_stream` for a request (parsed from `params` on the first read when
        None): the first chunk within `budget` (with retries), then every chunk as it comes (at most
        `budget` between reads, no retry)."""
        if request is None:
            spec = sub_action(STREAM_SUB_ACTION, connector.provider, connector.task_type)
            request = with_connector_temperature(parse_params(spec, params), connector)
        check_context_window(request, connector.context_window_length)
        prepared = self._prepared(connector)
        ctx = self._context(prepared, budget)
        stream_id, model, created = self._stream_identity(prepared, request)
        first, chunks = await self._guarded(ctx, budget, self._open_chat(prepared, request, ctx, budget))
        watchdog: StreamWatchdog | None = None
        try:
            if first is None:
                return
            yield first.to_openai(id=stream_id, model=model, created=created)
            watchdog = self._watchdog(ctx)
            while True:
                try:
                    chunk = await watchdog.next(chunks)
                    if chunk is None:
                        return
                except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                    raise
                except Exception as exc:
                    out = self._error_out(exc, ctx)
                    if out is exc:
                        raise
                else:
                    yield chunk.to_openai(id=stream_id, model=model, created=created)
                    continue
                raise out  # outside the except block: no unredacted __context__
        finally:
            if watchdog is not None:
                watchdog.close()
            await _aclose(chunks)
