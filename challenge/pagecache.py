"""A small per-process cache of rendered pages (and a few cheap figures), per app.

Hand-written rather than a caching library: every key is built from identities that change
whenever what the page shows may change (an immutable published snapshot's id, a stamp
read from the database on each request, the open safety flags), so there is no expiry to
tune for those pages and nothing shared between processes to keep coherent. A bounded
OrderedDict under a lock is all that needs. Each app keeps its own store (another app in
the same process has another database).

Pages are served from it only to anonymous visitors with no flashed message waiting: a
logged-in visitor's page carries their name and a CSRF token, and a flashed message is for
one visitor once.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from flask import current_app, request, session
from flask_login import current_user

#: How many entries each app keeps (least recently used go first).
MAX_ENTRIES = 256
_LOCK = threading.Lock()


def _store() -> OrderedDict[Hashable, Any]:
    return current_app.extensions.setdefault("page_cache", OrderedDict())


def get(key: Hashable) -> Any | None:
    """The value stored under `key`, or None."""
    store = _store()
    with _LOCK:
        value = store.get(key)
        if value is not None:
            store.move_to_end(key)
        return value


def put(key: Hashable, value: Any) -> Any:
    """Store `value` under `key` (dropping the least recently used beyond MAX_ENTRIES)."""
    store = _store()
    with _LOCK:
        store[key] = value
        store.move_to_end(key)
        while len(store) > MAX_ENTRIES:
            store.popitem(last=False)
    return value


def for_anonymous() -> bool:
    """Whether this request may get (and fill) a cached public page: a plain GET by an
    anonymous visitor with no flashed message waiting."""
    return (request.method == "GET" and not current_user.is_authenticated
            and not session.get("_flashes"))


def time_bucket(seconds: float) -> int:
    """The current `seconds`-long slice of the monotonic clock, for keys of figures that
    may be a few seconds old (never for anything a safety decision can change)."""
    return int(time.monotonic() // seconds)
