"""Encryption keys over a shared store: which key ids this host cannot open, and Kibana's
`_rotate_key` (re-encrypt every connector's secrets with the primary key)."""

from __future__ import annotations

import logging

from ai_connector.host.crypto import SecretCipher
from ai_connector.host.errors import HostError
from ai_connector.host.resolve import Resolver
from ai_connector.host.settings import ENV_VARS
from ai_connector.host.store import ConnectorStore, StoredConnector

__all__ = ["rotate", "unknown_key_ids"]

log = logging.getLogger("ai_connector.host")


def unknown_key_ids(store: ConnectorStore, cipher: SecretCipher) -> dict[str, int]:
    """Key id -> connectors whose secrets it encrypted, for the key ids `cipher` does not have.

    Two hosts sharing a store with different keys strand each other's secrets: this
    says so (a warning) at startup instead of failing one connector at a time.
    """
    in_use = store.key_ids_in_use()
    known = set(cipher.key_ids)
    unknown = {k: n for k, n in in_use.items() if k not in known}
    if unknown:
        log.warning(
            "%d connector(s) have secrets encrypted with key(s) %s that this host does not have: "
            "they report is_missing_secrets and cannot run. Add the previous key to %s (every "
            "host sharing this store must use the same keys).",
            sum(unknown.values()),
            ", ".join(sorted(unknown)),
            ENV_VARS["decryption_only_keys"],
        )
    return unknown


def rotate(store: ConnectorStore, resolver: Resolver, batch_size: int) -> dict[str, int]:
    """Re-encrypt every stored secret with the primary key; `{total, successful, failed}`.

    A row changed meanwhile is read again (three tries); one no key opens is counted as failed and
    logged with its id; neither stops the rotation.
    """
    total = successful = failed = 0
    for batch in store.batches(batch_size):
        for record in batch:
            if record.secrets is None:
                continue
            total += 1
            current: StoredConnector | None = record
            for _attempt in range(3):
                assert current is not None
                try:
                    secrets = resolver.decrypt(current)
                except HostError as exc:
                    log.warning("rotate-key: connector %s: %s", current.id, exc.message)
                    failed += 1
                    break
                token = resolver.cipher.encrypt(
                    secrets,
                    connector_id=current.id,
                    connector_type=current.connector_type_id,
                    config=current.config,
                )
                if store.replace_secrets(current.id, expected_version=current.version, secrets=token):
                    successful += 1
                    break
                current = store.get(current.id)  # changed meanwhile: read it again
                if current is None or current.secrets is None:
                    total -= 1  # deleted (or stripped) while rotating: nothing left to rotate
                    break
            else:
                log.warning("rotate-key: connector %s kept changing; not rotated", record.id)
                failed += 1
    log.info("rotate-key: total=%d successful=%d failed=%d", total, successful, failed)
    return {"total": total, "successful": successful, "failed": failed}
