"""The short-lived caches (chalicelib/cache.py) and their invalidation rules.

The rest of the suite runs with them off (FOULE_CACHE_SECONDS=0, tests/conftest.py), as it
counts and breaks every store call; here they are on, as in `make run` and in AWS.
"""
import dataclasses
import threading
import time

import pytest

from chalicelib import cache


@pytest.fixture
def cache_seconds(monkeypatch):
    def set_to(seconds: float) -> None:
        monkeypatch.setattr(cache, "settings", dataclasses.replace(cache.settings, cache_seconds=seconds))

    return set_to


def key_lookups(monkeypatch) -> list:
    """The authorizer's reads of the key table, recorded."""
    from chalicelib import auth

    reads, stored_key = [], auth._stored_key

    def counted(key_hash):
        reads.append(key_hash)
        return stored_key(key_hash)

    monkeypatch.setattr(auth, "_stored_key", counted)
    return reads


def test_a_key_is_read_once_per_cache_time_not_once_per_request(api, new_key, cache_seconds, monkeypatch):
    cache_seconds(60)
    reads = key_lookups(monkeypatch)
    worker, _ = new_key("worker")
    for _ in range(3):
        assert api.get("/me", worker)[0] == 200
    assert len(reads) == 1


def test_a_key_revoked_in_this_process_is_refused_at_once(api, new_key, cache_seconds):
    from chalicelib import auth

    cache_seconds(60)
    worker, _ = new_key("worker")
    assert api.get("/me", worker)[0] == 200  # now cached
    assert auth.revoke_key(worker)
    status, body = api.get("/me", worker)
    assert status == 401 and body["error"]["code"] == "key_revoked"


def test_a_key_revoked_by_another_process_is_refused_within_the_cache_time(api, new_key, cache_seconds):
    from chalicelib.auth import hash_key
    from chalicelib.models import ApiKey
    from chalicelib.models.base import now_ms

    cache_seconds(0.5)
    worker, _ = new_key("worker")
    assert api.get("/me", worker)[0] == 200
    # Another Lambda container revokes it: the store changes, this process's cache does not know.
    ApiKey(hash_key(worker)).update(actions=[ApiKey.revoked_at.set(now_ms())])
    assert api.get("/me", worker)[0] == 200  # the documented window: at most cache_seconds
    time.sleep(0.6)
    assert api.get("/me", worker)[0] == 401


def test_an_unknown_key_is_not_remembered(api, new_key, cache_seconds, monkeypatch):
    cache_seconds(60)
    reads = key_lookups(monkeypatch)
    for _ in range(2):
        assert api.get("/me", "fk_wrk_no-such-key")[0] == 401
    assert len(reads) == 2  # a miss is read again: a key created meanwhile works at once


def test_a_load_that_overlaps_a_forget_is_not_kept(cache_seconds):
    """A read that started before a change (and so may carry the old value) must not be kept
    after the change forgot the key."""
    cache_seconds(60)
    ttl_cache, loading, forgotten = cache.TtlCache(), threading.Event(), threading.Event()

    def slow_old_read():
        loading.set()
        forgotten.wait(5)
        return "old"

    reader = threading.Thread(target=lambda: ttl_cache.get("k", slow_old_read))
    reader.start()
    loading.wait(5)
    ttl_cache.forget("k")  # the change, made while the old read was in flight
    forgotten.set()
    reader.join(5)
    assert ttl_cache.get("k", lambda: "new") == "new"
