"""Sealed tokens: identifiers that only this deployment can read, and nobody can forge.

Foule hands clients identifiers that must not say what they name: a lease id must not tell a
gold task from a real one, and a worker pseudonym must not give a requester the worker's id.
Each is the sealed (encrypted and authenticated) form of the fields the server needs back, so
one read still finds the item behind it.

The construction is SIV, deterministic authenticated encryption (Rogaway & Shrimpton,
"A Provable-Security Treatment of the Key-Wrap Problem", EUROCRYPT 2006), with HMAC-SHA256 as
its pseudo-random function, so it needs nothing beyond the standard library:

    iv    = HMAC(k_mac, purpose || 0x00 || plaintext)[:16]
    token = iv || plaintext XOR HMAC-SHA256-CTR(k_enc, iv)

Opening recomputes the keystream from `iv`, decrypts, and accepts only if `iv` matches the
plaintext's HMAC (compared in constant time). The keys are derived per purpose from the
deployment's secret (settings.secret_key), so a token sealed for one purpose never opens as
another. Sealing is deterministic: the same plaintext gives the same token, which is what a
pseudonym needs; a one-off token (a lease id) puts a random nonce in its plaintext. The length
of the plaintext shows through: callers pad fields whose length could tell something.
"""
import base64
import functools
import hashlib
import hmac

from chalicelib.settings import settings

IV_BYTES = 16


@functools.cache
def _keys(purpose: str) -> tuple[bytes, bytes]:
    master = settings.secret_key()
    derive = lambda label: hmac.new(master, f"foule/{purpose}/{label}".encode(), hashlib.sha256).digest()  # noqa: E731
    return derive("mac"), derive("enc")


def _keystream(key: bytes, iv: bytes, length: int) -> bytes:
    blocks = (hmac.new(key, iv + counter.to_bytes(4, "big"), hashlib.sha256).digest()
              for counter in range((length + 31) // 32))
    return b"".join(blocks)[:length]


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")).to_bytes(len(data), "big")


def _iv(mac_key: bytes, purpose: str, plaintext: bytes) -> bytes:
    return hmac.new(mac_key, purpose.encode() + b"\x00" + plaintext, hashlib.sha256).digest()[:IV_BYTES]


def seal(purpose: str, plaintext: bytes) -> str:
    """The URL-safe token (base64, no padding) of `plaintext`, for `purpose` only."""
    mac_key, enc_key = _keys(purpose)
    iv = _iv(mac_key, purpose, plaintext)
    sealed = iv + _xor(plaintext, _keystream(enc_key, iv, len(plaintext)))
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def digest(purpose: str, data: bytes) -> bytes:
    """A keyed hash of `data` for `purpose`: unpredictable without the deployment's secret, where
    a plain hash of known inputs would let a client compute it (e.g. where its gold task goes)."""
    return hmac.new(_keys(purpose)[0], data, hashlib.sha256).digest()


def unseal(purpose: str, token: str) -> bytes | None:
    """The plaintext sealed in `token` for `purpose`, or None if it is not such a token
    (malformed, forged, altered, or sealed for another purpose or deployment)."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, TypeError):
        return None
    if len(raw) < IV_BYTES:
        return None
    mac_key, enc_key = _keys(purpose)
    iv, body = raw[:IV_BYTES], raw[IV_BYTES:]
    plaintext = _xor(body, _keystream(enc_key, iv, len(body)))
    return plaintext if hmac.compare_digest(iv, _iv(mac_key, purpose, plaintext)) else None
