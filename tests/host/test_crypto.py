"""Secrets at rest: AEAD with the connector's id, type and config bound (A2.4, B3.5, B3.6), typed
and actionable decryption failures (A2.6, B3.2), rotation keys (A2.3, B3.3), the key file."""

from __future__ import annotations

import base64
import multiprocessing
import os
import stat

import pytest

from ai_connector.host.crypto import SecretCipher, canonical_json, cipher_for, load_or_create_key_file
from ai_connector.host.errors import DecryptionError, SettingsError
from ai_connector.host.settings import HostSettings

K1, K2, K3 = "1" * 32, "2" * 40, "3" * 64
CONFIG = {
    "provider": "fake",
    "taskType": "chat_completion",
    "providerConfig": {"url": "https://a.test", "t": 0.5},
}
SECRET = {"api_key": "sk-canary-crypto-0123456789"}


def seal(cipher: SecretCipher, cid: str = "c1", config=CONFIG, ctype: str = ".inference") -> str:
    return cipher.encrypt(SECRET, connector_id=cid, connector_type=ctype, config=config)


def open_(cipher: SecretCipher, token: str, cid: str = "c1", config=CONFIG, ctype: str = ".inference"):
    return cipher.decrypt(token, connector_id=cid, connector_type=ctype, config=config)


def test_round_trip_and_the_token_holds_no_plaintext():
    cipher = SecretCipher(K1)
    token = seal(cipher)
    assert open_(cipher, token) == SECRET
    assert token.startswith(f"aic1.{cipher.primary_key_id}.")
    assert "sk-canary" not in token and K1 not in token
    assert seal(cipher) != token  # a fresh nonce every time


def test_the_key_id_does_not_reveal_the_key():
    cipher = SecretCipher(K1)
    assert len(cipher.primary_key_id) == 16 and K1[:8] not in cipher.primary_key_id
    assert SecretCipher(K1).primary_key_id == cipher.primary_key_id  # stable
    assert SecretCipher(K2).primary_key_id != cipher.primary_key_id


def test_key_order_in_config_does_not_matter_but_values_do():
    cipher = SecretCipher(K1)
    token = seal(cipher)
    reordered = {
        "providerConfig": {"t": 0.5, "url": "https://a.test"},
        "taskType": "chat_completion",
        "provider": "fake",
    }
    assert open_(cipher, token, config=reordered) == SECRET
    assert canonical_json(reordered) == canonical_json(CONFIG)


@pytest.mark.parametrize(
    ("what", "kwargs"),
    [
        ("stored config", {"config": {**CONFIG, "providerConfig": {"url": "https://evil.test", "t": 0.5}}}),
        ("connector type", {"ctype": ".gen-ai"}),
        ("connector id (ciphertext copied to another connector)", {"cid": "c2"}),
    ],
)
def test_tampering_with_the_bound_fields_fails_with_an_actionable_error(what, kwargs):
    cipher = SecretCipher(K1)
    token = seal(cipher)
    with pytest.raises(DecryptionError) as info:
        open_(cipher, token, **kwargs)
    err = info.value
    assert err.status_code == 500
    assert "integrity check failed" in err.message
    assert "provide its secrets again" in err.message
    assert "sk-canary" not in err.message


def test_tampered_ciphertext_fails_typed_never_with_a_partial_secret():
    cipher = SecretCipher(K1)
    token = seal(cipher)
    prefix, kid, body = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[20] ^= 0x01
    flipped = f"{prefix}.{kid}." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (flipped, token[:-4], f"{prefix}.{kid}.", "not-a-token", f"{prefix}.{kid}.!!!!"):
        with pytest.raises(DecryptionError):
            open_(cipher, bad)


def test_a_wrong_key_says_to_add_the_previous_key_to_decryption_only_keys():
    token = seal(SecretCipher(K1))
    with pytest.raises(DecryptionError) as info:
        open_(SecretCipher(K2), token)
    message = info.value.message
    assert "AI_CONNECTOR_DECRYPTION_ONLY_KEYS" in message
    assert SecretCipher(K1).primary_key_id in message  # which key is missing, by id
    assert info.value.key_id == SecretCipher(K1).primary_key_id
    assert K1 not in message and K2 not in message


def test_rotation_old_keys_decrypt_only_the_primary_encrypts():
    old_token = seal(SecretCipher(K1))
    rotated = SecretCipher(K2, [K3, K1])
    assert open_(rotated, old_token) == SECRET
    new_token = seal(rotated)
    assert SecretCipher.key_id_of(new_token) == SecretCipher(K2).primary_key_id
    assert open_(SecretCipher(K2), new_token) == SECRET  # K1 can be removed after re-encryption
    with pytest.raises(DecryptionError):
        open_(SecretCipher(K1), new_token)


def test_decryption_tries_every_key_even_when_the_id_is_unknown():
    # A token whose key id was mangled still opens with the right key (primary then old keys).
    token = seal(SecretCipher(K1))
    prefix, _kid, body = token.split(".")
    assert open_(SecretCipher(K2, [K1]), f"{prefix}.0000000000000000.{body}") == SECRET


def test_short_keys_are_refused():
    with pytest.raises(SettingsError):
        SecretCipher("x" * 31)
    with pytest.raises(SettingsError):
        SecretCipher(K1, ["y" * 10])


def test_the_key_file_is_generated_once_with_mode_0600(tmp_path):
    path = tmp_path / "data" / "encryption.key"
    key = load_or_create_key_file(path)
    assert len(key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(path) == key  # kept across restarts (never a per-start key)


def _make_key(path: str, queue: multiprocessing.Queue) -> None:
    from pathlib import Path

    queue.put(load_or_create_key_file(Path(path)))


def test_two_processes_starting_together_agree_on_one_key(tmp_path):
    path = tmp_path / "encryption.key"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_make_key, args=(str(path), queue)) for _ in range(4)]
    for p in procs:
        p.start()
    keys = {queue.get(timeout=60) for _ in procs}
    for p in procs:
        p.join(timeout=60)
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["encryption.key"]  # no temporary files left


def test_a_damaged_key_file_is_a_clear_startup_error(tmp_path):
    path = tmp_path / "encryption.key"
    path.write_text("short\n")
    os.chmod(path, 0o600)
    with pytest.raises(SettingsError, match="fewer than 32 characters"):
        load_or_create_key_file(path)


def test_cipher_for_uses_the_configured_key_or_the_embedded_key_file(tmp_path):
    configured = HostSettings.load(
        env={"AI_CONNECTOR_HOME": str(tmp_path), "AI_CONNECTOR_ENCRYPTION_KEY": K2}
    )
    assert cipher_for(configured).primary_key_id == SecretCipher(K2).primary_key_id
    assert not (tmp_path / "encryption.key").exists()
    embedded = HostSettings.load(env={"AI_CONNECTOR_HOME": str(tmp_path)})
    cipher = cipher_for(embedded)
    assert (tmp_path / "encryption.key").exists()
    assert cipher_for(embedded).primary_key_id == cipher.primary_key_id
