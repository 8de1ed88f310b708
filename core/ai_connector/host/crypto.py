"""Secrets at rest: AES-256-GCM with the connector's identity and config bound as associated data.

Kibana's Encrypted Saved Objects encrypt a connector's `secrets` and put `actionTypeId` and `config`
in the AAD (A2.4), so editing the stored config outside the API makes decryption fail. We bind the
connector id too (so one connector's ciphertext pasted into another fails, B3.6).

- Keys: the configured key (`AI_CONNECTOR_ENCRYPTION_KEY`, >= 32 characters) or, on the embedded
  SQLite default only, a generated key file (mode 0600) beside the database. The AES key is derived
  with HKDF-SHA256, so the configured string is never used as a key directly.
- Each ciphertext names the key that made it by a key id (a one-way HKDF output, not the key).
  Decryption tries that key first, then the primary, then `AI_CONNECTOR_DECRYPTION_ONLY_KEYS` (A2.3).
- Failure is a typed DecryptionError saying what to do: never a crash, never an empty secret.

Token format: `aic1.<key id>.<base64url(nonce || ciphertext || tag)>`.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets as _random
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ai_connector.host.errors import DecryptionError, SettingsError
from ai_connector.host.settings import ENV_VARS, MIN_KEY_LENGTH, HostSettings

__all__ = ["TOKEN_PREFIX", "SecretCipher", "canonical_json", "cipher_for", "load_or_create_key_file"]

log = logging.getLogger("ai_connector.host")

TOKEN_PREFIX = "aic1"
_SALT = b"ai-connector/secrets/v1"
_NONCE_BYTES = 12


def canonical_json(value: Any) -> str:
    """One spelling per value (sorted keys, no spaces, UTF-8), so the AAD is reproducible."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _derive(key: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(key.encode("utf-8"))


class _Key:
    __slots__ = ("aead", "key_id")

    def __init__(self, secret: str) -> None:
        self.aead = AESGCM(_derive(secret, b"aes-256-gcm"))
        self.key_id = _derive(secret, b"key-id")[:8].hex()

    def __repr__(self) -> str:
        return f"_Key(key_id={self.key_id!r})"


class SecretCipher:
    """Encrypts and decrypts a connector's providerSecrets with the primary and decryption-only keys."""

    algorithm = "AES-256-GCM"

    def __init__(self, primary: str, decryption_only: Sequence[str] = ()) -> None:
        for key in (primary, *decryption_only):
            if len(key) < MIN_KEY_LENGTH:
                raise SettingsError(f"encryption keys must be at least {MIN_KEY_LENGTH} characters")
        self._primary = _Key(primary)
        self._old = [_Key(k) for k in decryption_only]

    def __repr__(self) -> str:
        return f"SecretCipher(primary={self.primary_key_id!r}, decryption_only={len(self._old)})"

    @property
    def primary_key_id(self) -> str:
        """The id of the key new ciphertexts are made with."""
        return self._primary.key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Every key id this cipher can decrypt: the primary first."""
        return (self._primary.key_id, *(k.key_id for k in self._old))

    @staticmethod
    def aad(connector_id: str, connector_type: str, config: Mapping[str, Any]) -> bytes:
        """The associated data: id, type and canonical config of the connector."""
        return canonical_json({"config": config, "id": connector_id, "type": connector_type}).encode()

    def encrypt(
        self,
        secrets: Mapping[str, Any],
        *,
        connector_id: str,
        connector_type: str,
        config: Mapping[str, Any],
    ) -> str:
        """A token holding `secrets`, bound to this connector's id, type and config."""
        nonce = _random.token_bytes(_NONCE_BYTES)
        plaintext = canonical_json(dict(secrets)).encode()
        sealed = self._primary.aead.encrypt(nonce, plaintext, self.aad(connector_id, connector_type, config))
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{TOKEN_PREFIX}.{self._primary.key_id}.{body}"

    @staticmethod
    def key_id_of(token: str) -> str | None:
        """The key id a token names, or None when it is not a token of ours."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        return parts[1]

    def decrypt(
        self,
        token: str,
        *,
        connector_id: str,
        connector_type: str,
        config: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The secrets in `token`; DecryptionError (actionable) when no key opens it."""
        key_id = self.key_id_of(token)
        if key_id is None:
            raise DecryptionError(
                f"Unable to decrypt the secrets of connector [id={connector_id}]: the stored value is not "
                "an ai-connector ciphertext (was the database edited by hand?). Update the connector "
                "and provide its secrets again.",
                connector_id=connector_id,
            )
        try:
            body = token.split(".", 2)[2]
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, IndexError):
            raw = b""
        aad = self.aad(connector_id, connector_type, config)
        keys = [self._primary, *self._old]
        keys.sort(key=lambda k: k.key_id != key_id)  # the key the token names first; stable otherwise
        if len(raw) > _NONCE_BYTES:
            for key in keys:
                try:
                    plaintext = key.aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
                except InvalidTag:
                    continue
                try:
                    value = json.loads(plaintext)
                except ValueError:
                    break
                if isinstance(value, dict):
                    return value
                break
        if key_id in self.key_ids:
            message = (
                f"Unable to decrypt the secrets of connector [id={connector_id}]: the integrity check "
                "failed, so the stored secrets or the connector's stored config or type were changed "
                "outside ai-connector. Update the connector and provide its secrets again."
            )
        else:
            message = (
                f"Unable to decrypt the secrets of connector [id={connector_id}]: they were encrypted "
                f"with key {key_id}, which is neither {ENV_VARS['encryption_key']} nor one of "
                f"{ENV_VARS['decryption_only_keys']}. Add the previous encryption key to "
                f"{ENV_VARS['decryption_only_keys']} (every host sharing this store must use the "
                "same keys), or update the connector and provide its secrets again."
            )
        raise DecryptionError(message, connector_id=connector_id, key_id=key_id)


def load_or_create_key_file(path: Path) -> str:
    """The key in `path`, generating it (mode 0600, atomically) the first time.

    Two processes starting together agree on one key: the file appears complete or not at all
    (written to a private temporary file, then hard-linked into place, which fails if it exists).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(_random.token_urlsafe(48) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)
                log.info("generated an encryption key file at %s (mode 0600); back it up", path)
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        mode = path.stat().st_mode
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"cannot read the encryption key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the encryption key file %s is readable by other users; chmod 600 it", path)
    if len(key) < MIN_KEY_LENGTH:
        raise SettingsError(
            f"the encryption key file {path} holds fewer than {MIN_KEY_LENGTH} characters; restore it "
            f"from a backup or set {ENV_VARS['encryption_key']}"
        )
    return key


def cipher_for(settings: HostSettings) -> SecretCipher:
    """The cipher from the configured key, or from the key file on the embedded default."""
    key = settings.encryption_key
    if not key:
        if not settings.embedded:
            raise SettingsError(
                f"{ENV_VARS['encryption_key']} is required with a shared database "
                f"({ENV_VARS['database_url']})"
            )
        key = load_or_create_key_file(settings.key_file_path)
    return SecretCipher(key, settings.decryption_only_keys)
