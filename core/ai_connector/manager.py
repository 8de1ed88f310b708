"""The one collector of providers: discovers plugins by entry point, isolates the broken ones and
validates every provider it is given (ids, task types, schemas against the meta-schema).

A plugin that fails to import, raises in its hook, returns an invalid provider or reuses a taken
id is reported (name, distribution, version, reason) and skipped; a half-registered plugin is
unregistered. `AI_CONNECTOR_STRICT_PLUGINS=1` turns any failure into an error;
`AI_CONNECTOR_DISABLED_PLUGINS=a,b` skips plugins (by entry-point or distribution name) before import.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from types import MappingProxyType
from typing import Any, cast

import pluggy

from ai_connector.errors import PluginLoadError, UnknownProviderError
from ai_connector.hookspecs import PROJECT, AIConnectorSpecs
from ai_connector.provider_files import home_provider_plugins, load_entry_point
from ai_connector.types import Provider

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "ProviderRegistry",
    "UnknownProviderError",
    "default_registry",
    "load_registry",
    "provider_host_settings",
]

ENTRY_POINT_GROUP = "ai_connector.providers"
log = logging.getLogger("ai_connector.plugins")


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """What `ai-connector plugins` shows for one plugin."""

    name: str
    distribution: str | None
    version: str | None
    status: str  # active | failed | disabled
    error: str | None = None
    providers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "providers": list(self.providers),
        }


class ProviderRegistry:
    """The loaded providers (sorted by id) and the status of every plugin that was considered."""

    def __init__(
        self,
        providers: Mapping[str, Provider],
        plugins: Sequence[PluginInfo],
        plugin_manager: pluggy.PluginManager,
        origins: Mapping[str, str],
    ) -> None:
        self.providers: Mapping[str, Provider] = MappingProxyType(dict(sorted(providers.items())))
        self.plugins: tuple[PluginInfo, ...] = tuple(sorted(plugins, key=lambda p: p.name))
        self.plugin_manager = plugin_manager
        self._origins = dict(origins)

    def get(self, provider_id: str) -> Provider:
        """The provider with this id, or UnknownProviderError listing the available ones."""
        try:
            return self.providers[provider_id]
        except KeyError:
            raise UnknownProviderError(provider_id, list(self.providers)) from None

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self.providers

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.providers.values())

    def __len__(self) -> int:
        return len(self.providers)

    def plugin_of(self, provider_id: str) -> str | None:
        """The name of the plugin that declared this provider."""
        return self._origins.get(provider_id)

    @property
    def failed(self) -> tuple[PluginInfo, ...]:
        """The plugins that failed to load."""
        return tuple(p for p in self.plugins if p.status == "failed")


def _env_list(name: str) -> set[str]:
    return {x.strip() for x in os.environ.get(name, "").split(",") if x.strip()}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class _Candidate:
    name: str
    distribution: str | None
    version: str | None
    plugin: Any = None
    entry_point: metadata.EntryPoint | None = None


def _entry_points() -> list[tuple[metadata.EntryPoint, str | None, str | None]]:
    """(entry point, distribution name, version) of every provider plugin, each once; a
    distribution's metadata file is parsed once (`Distribution.name` parses it on every read, and
    the built-in plugins share one distribution whose metadata holds the whole README)."""
    seen: set[tuple[str | None, str]] = set()
    identities: dict[int, tuple[str | None, str | None]] = {}  # by distribution object
    out = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        identity = identities.get(id(ep.dist))
        if identity is None:
            meta = ep.dist.metadata if ep.dist is not None else None
            identity = identities[id(ep.dist)] = (
                (meta["Name"], meta["Version"]) if meta is not None else (None, None)
            )
        dist, version = identity
        key = (dist and dist.lower(), ep.name)  # editable installs and lib64 symlinks list dists twice
        if key in seen:
            continue
        seen.add(key)
        out.append((ep, dist, version))
    return sorted(out, key=lambda e: (e[0].name, e[1] or ""))


def check_provider(provider: Any) -> list[str]:
    """Every reason `provider` cannot be loaded (empty when it is valid)."""
    from ai_connector.validation import check_provider_schemas

    if not isinstance(provider, Provider):
        return [f"the hook returned {type(provider).__name__}, not an ai_connector Provider"]
    problems = check_provider_schemas(provider)
    for task in provider.task_settings_schemas:
        if task not in provider.task_types:
            problems.append(f"task settings schema for {task.value!r}, which is not among its task types")
    return problems


def load_registry(
    *,
    disabled: Iterable[str] | None = None,
    strict: bool | None = None,
    entry_points: bool = True,
    plugins: Sequence[tuple[str, Any]] = (),
) -> ProviderRegistry:
    """Discover and validate providers; never raises for a broken plugin unless `strict`.

    `plugins` adds (name, plugin object) pairs registered directly (host applications, tests).
    `disabled` defaults to `AI_CONNECTOR_DISABLED_PLUGINS`, `strict` to `AI_CONNECTOR_STRICT_PLUGINS`.
    """
    disabled_set = _env_list("AI_CONNECTOR_DISABLED_PLUGINS") if disabled is None else set(disabled)
    strict = _env_flag("AI_CONNECTOR_STRICT_PLUGINS") if strict is None else strict
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(AIConnectorSpecs)
    infos: list[PluginInfo] = []

    def fail(cand: _Candidate, reason: str) -> None:
        if cand.plugin is not None and pm.is_registered(cand.plugin):
            pm.unregister(cand.plugin)
        dist = f" (distribution {cand.distribution} {cand.version})" if cand.distribution else ""
        message = f"plugin {cand.name!r}{dist} failed to load: {reason}"
        if strict:
            raise PluginLoadError(message)
        log.warning("%s; skipped", message)
        infos.append(PluginInfo(cand.name, cand.distribution, cand.version, "failed", reason))

    candidates: list[_Candidate] = []
    if entry_points:
        for ep, dist, version in _entry_points():
            cand = _Candidate(ep.name, dist, version, entry_point=ep)
            if ep.name in disabled_set or (dist is not None and dist in disabled_set):
                infos.append(PluginInfo(ep.name, dist, version, "disabled"))
                continue
            try:
                cand.plugin = load_entry_point(ep)  # a module, or a provider file (`pkg:x.toml`)
            except Exception as exc:  # a broken plugin must not take the host down
                fail(cand, f"import failed: {type(exc).__name__}: {exc}")
                continue
            candidates.append(cand)
    for name, obj in [*(home_provider_plugins() if entry_points else ()), *plugins]:
        if name in disabled_set:
            infos.append(PluginInfo(name, None, None, "disabled"))
            continue
        candidates.append(_Candidate(name, None, None, plugin=obj))

    registered: list[_Candidate] = []
    for cand in candidates:
        try:
            pm.register(cand.plugin, name=cand.name)
            pm.check_pending()
        except Exception as exc:
            fail(cand, f"registration failed: {type(exc).__name__}: {exc}")
            continue
        registered.append(cand)

    # Call each plugin's hook ourselves so one failure is attributed and skipped, not fatal.
    declared: dict[str, list[tuple[_Candidate, Provider]]] = {}
    by_candidate: dict[int, list[Provider]] = {}
    good: list[_Candidate] = []
    for cand in registered:
        impls = [i for i in pm.hook.ai_connector_providers.get_hookimpls() if i.plugin is cand.plugin]
        try:
            found: list[Provider] = []
            for impl in impls:
                result = cast("Iterable[Provider] | None", impl.function())
                found.extend(list(result) if result is not None else [])
        except Exception as exc:
            fail(cand, f"ai_connector_providers() raised {type(exc).__name__}: {exc}")
            continue
        problems = []
        for provider in found:
            problems += [f"provider {getattr(provider, 'id', '?')!r}: {p}" for p in check_provider(provider)]
        if problems:
            fail(cand, "; ".join(problems))
            continue
        by_candidate[id(cand)] = found
        good.append(cand)
        for provider in found:
            declared.setdefault(provider.id, []).append((cand, provider))

    def origin(c: _Candidate) -> str:
        return f"{c.name!r} from distribution {c.distribution or '(registered directly)'}"

    conflicted: dict[int, str] = {}
    for pid, claims in declared.items():
        if len(claims) > 1:
            names = " and ".join(origin(c) for c, _ in claims)
            for cand, _ in claims:
                conflicted[id(cand)] = f"provider id {pid!r} is declared by both {names}"

    providers: dict[str, Provider] = {}
    origins: dict[str, str] = {}
    for cand in good:
        if id(cand) in conflicted:
            fail(cand, conflicted[id(cand)])
            continue
        found = by_candidate[id(cand)]
        for provider in found:
            providers[provider.id] = provider
            origins[provider.id] = cand.name
        infos.append(
            PluginInfo(cand.name, cand.distribution, cand.version, "active", None, tuple(p.id for p in found))
        )
    return ProviderRegistry(providers, infos, pm, origins)


@functools.cache
def default_registry() -> ProviderRegistry:
    """The process-wide registry from installed entry points (cached; `default_registry.cache_clear()`)."""
    return load_registry()


def provider_host_settings(
    provider: Provider, configured: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The host's settings for `provider`: its declared environment variables, overridden by what the
    host's configuration (`[provider_settings.<id>]`) says."""
    env = os.environ if environ is None else environ
    merged: dict[str, Any] = {
        key: env[var] for key, var in provider.host_settings_env.items() if env.get(var, "").strip()
    }
    merged.update(configured or {})
    return merged
