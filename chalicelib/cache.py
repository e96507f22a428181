"""Short-lived, per-process caches of store reads that every request would otherwise repeat.

A cached value may be up to `settings.cache_seconds` old (FOULE_CACHE_SECONDS, 5 by default;
0 turns every cache off). Each cache says where it is used and its invalidation rule; the
README lists them ("Short-lived caches"). A change made through this process calls `forget`,
so it counts at once here; other processes (other Lambda containers) see it within the TTL.
"""
import threading
import time
from collections import OrderedDict

from chalicelib.settings import settings


class TtlCache:
    """key -> value, each kept `settings.cache_seconds` from its load; at most `size` keys (the
    least recently loaded go first). Thread-safe: chalice local serves requests on threads."""

    def __init__(self, size: int = 4096):
        self.size = size
        self.entries: OrderedDict = OrderedDict()
        self.lock = threading.Lock()
        self.forgets = 0  # a load that overlapped a forget() is not kept: it may predate the change

    def get(self, key, load):
        """The cached value of `key`, or `load()` (cached when it returns something else than
        None: a miss, such as an unknown key, is never cached)."""
        ttl = settings.cache_seconds
        if ttl <= 0:
            return load()
        now = time.monotonic()
        with self.lock:
            hit = self.entries.get(key)
            if hit is not None and now - hit[0] < ttl:
                return hit[1]
            forgets = self.forgets
        value = load()
        if value is not None:
            with self.lock:
                if self.forgets != forgets:
                    return value
                self.entries[key] = (now, value)
                self.entries.move_to_end(key)
                while len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return value

    def forget(self, key) -> None:
        with self.lock:
            self.forgets += 1
            self.entries.pop(key, None)

    def clear(self) -> None:
        with self.lock:
            self.forgets += 1
            self.entries.clear()
