"""Response bodies: JSON with pre-encoded list items, and a cache of compressed bodies.

``/cluster/resources`` at 10,000 guests is a ~3 MB body that clients poll. Encoding ten
thousand dicts costs more than building them and gzip costs half as much again, while the
answer only changes once per pvestatd interval (or on a config/power change). So handlers
may hand back an :class:`EncodedList` whose items carry their JSON, memoised by the handler
with the item; and the server reuses the gzip of a body it has compressed before for the
same request when the new body is byte-for-byte the same (compared by SHA-256).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any


def encode(value: Any) -> bytes:
    """PVE's compact JSON (no spaces), UTF-8."""
    return json.dumps(value, separators=(",", ":")).encode()


class EncodedList(list):  # type: ignore[type-arg]
    """A list answer carrying each item's JSON encoding in ``fragments`` (same order).

    It is still a plain list for everything that inspects answers (response hooks, the
    corrupt-answer chaos, the ExtJS envelope). Invariant: ``fragments[i]`` is exactly
    ``encode(self[i])``; items must not be mutated once added.
    """

    def __init__(self) -> None:
        super().__init__()
        self.fragments: list[bytes] = []

    def add(self, item: Any, fragment: bytes | None = None) -> None:
        self.append(item)
        self.fragments.append(encode(item) if fragment is None else fragment)

    def extend_items(self, items: Any) -> None:
        for item in items:
            self.add(item)


def encode_payload(payload: dict[str, Any]) -> bytes:
    """``encode(payload)``, joining the fragments of an :class:`EncodedList` ``data``."""
    data = payload.get("data")
    if not isinstance(data, EncodedList) or len(data) != len(data.fragments):
        return encode(payload)
    body = b'{"data":[' + b",".join(data.fragments) + b"]"
    rest = {key: value for key, value in payload.items() if key != "data"}
    if rest:
        body += b"," + encode(rest)[1:-1]
    return body + b"}"


class GzipCache:
    """The gzip of the last big body per request key, reused when the body is unchanged.

    Correct by construction: a hit needs the SHA-256 of the new body to equal the cached
    one's, so nothing has to invalidate it. Only bodies of ``min_size`` bytes or more are
    kept (small ones compress faster than they hash), and at most ``entries`` keys.
    """

    def __init__(self, *, entries: int = 16, min_size: int = 64 * 1024, level: int = 1) -> None:
        self.entries = entries
        self.min_size = min_size
        self.level = level
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, tuple[bytes, bytes]] = OrderedDict()
        self.hits = 0

    def compress(self, key: Any, body: bytes) -> bytes:
        if len(body) < self.min_size:
            return gzip.compress(body, compresslevel=self.level)
        digest = hashlib.sha256(body).digest()
        with self._lock:
            cached = self._items.get(key)
            if cached is not None and cached[0] == digest:
                self._items.move_to_end(key)
                self.hits += 1
                return cached[1]
        # Compress outside the lock: concurrent readers of other keys are not held up.
        compressed = gzip.compress(body, compresslevel=self.level, mtime=0)
        with self._lock:
            self._items[key] = (digest, compressed)
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
        return compressed
