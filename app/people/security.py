"""Keys and their hashes. Keys are shown once and stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_key(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def hash_key(key: str) -> str:
    # Keys are long random strings, so a fast hash is enough; no password stretching needed.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def same_hash(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)
