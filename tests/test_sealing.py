"""Sealed tokens (chalicelib/sealing.py): they open only for their purpose, and any change to
a token, however small, makes it open as nothing."""
import base64
import os

from chalicelib import sealing


def test_a_sealed_token_opens_to_its_plaintext_and_hides_it():
    token = sealing.seal("lease", b'["p-1","t-1","w-1","3","nonce"]')
    assert sealing.unseal("lease", token) == b'["p-1","t-1","w-1","3","nonce"]'
    assert "p-1" not in token and "w-1" not in token
    assert sealing.seal("lease", b"same") == sealing.seal("lease", b"same")  # deterministic


def test_a_token_does_not_open_for_another_purpose():
    assert sealing.unseal("pseudonym", sealing.seal("lease", b"w-1")) is None


def test_every_altered_or_forged_token_is_refused():
    token = sealing.seal("lease", b"worker w-1 task t-9")
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for i in range(len(raw)):
        for bit in range(8):
            altered = bytearray(raw)
            altered[i] ^= 1 << bit
            assert sealing.unseal("lease", base64.urlsafe_b64encode(bytes(altered)).decode()) is None
    for forged in ["", "x", "not base64 at all!", token[:10], token + "AAAA", "é" * 30]:
        assert sealing.unseal("lease", forged) is None


def test_another_deployment_cannot_open_our_tokens(monkeypatch):
    token = sealing.seal("lease", b"gold?")
    from chalicelib import settings as settings_module

    other = settings_module.load().__class__(**{**settings_module.settings.__dict__,
                                                "secret_key_text": os.urandom(8).hex()})
    monkeypatch.setattr(sealing, "settings", other)
    sealing._keys.cache_clear()
    try:
        assert sealing.unseal("lease", token) is None
    finally:
        monkeypatch.undo()
        sealing._keys.cache_clear()
    assert sealing.unseal("lease", token) == b"gold?"
