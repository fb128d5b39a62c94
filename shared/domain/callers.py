"""Callers of the HTTP functions: API keys (stored as sha256 hashes) and service accounts
let in with a Google ID token, each with a name, scopes and a rate.

A key is ``cwk_`` + 43 characters of URL-safe base64 (32 random bytes). Matching hashes the
presented key and compares it with *every* entry in constant time (:func:`hmac.compare_digest`),
so neither the answer's time nor an early exit tells how much of a hash matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

KEY_PREFIX = "cwk_"
KEY_PATTERN = re.compile(r"^cwk_[A-Za-z0-9_-]{43}$")
SCOPES = ("process", "predictions")
BURST_SECONDS = 10  # a caller may spend this many seconds' worth of requests at once

CallerKind = Literal["api_key", "service_account"]


@dataclass(frozen=True)
class Caller:
    """Who is calling: ``name`` (in logs, metrics and the rate limit's key), its kind, scopes,
    and its requests per minute (None: the default)."""

    name: str
    kind: CallerKind
    scopes: frozenset[str]
    per_minute: int | None = None

    def may(self, scope: str | None) -> bool:
        """Whether the caller holds ``scope`` (None: any valid caller may)."""
        return scope is None or scope in self.scopes

    def rate(self, default_per_minute: int) -> tuple[int, int]:
        """Requests per minute and burst (per_minute / 6, at least 1)."""
        per_minute = self.per_minute or default_per_minute
        return per_minute, burst_of(per_minute)


@dataclass(frozen=True)
class ApiKey:
    """One key entry: the caller and the hex sha256 of its key (never the key)."""

    caller: Caller
    sha256: str


def burst_of(per_minute: int) -> int:
    """A bucket's capacity: :data:`BURST_SECONDS` worth of requests, at least one."""
    return max(1, per_minute * BURST_SECONDS // 60)


def new_key() -> str:
    """A fresh random API key (32 bytes)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The hex sha256 of a key, as stored in the secret."""
    return hashlib.sha256(key.encode()).hexdigest()


def match_key(key: str, entries: Iterable[ApiKey]) -> Caller | None:
    """The caller whose entry holds ``key``'s hash, comparing with every entry in constant time."""
    digest = hash_key(key).encode()
    found: Caller | None = None
    for entry in entries:
        if hmac.compare_digest(digest, entry.sha256.encode()) and found is None:
            found = entry.caller
    return found


def _caller(entry: Mapping[str, Any], kind: CallerKind) -> Caller:
    return Caller(
        str(entry["name"]), kind, frozenset(entry.get("scopes", ())), entry.get("per_minute")
    )


def parse_keys(doc: Mapping[str, Any]) -> tuple[ApiKey, ...]:
    """Key entries of a document valid against ``schemas/api_keys.schema.json``."""
    return tuple(ApiKey(_caller(e, "api_key"), str(e["sha256"]).lower()) for e in doc["keys"])


def parse_accounts(doc: Mapping[str, Any]) -> dict[str, Caller]:
    """Service accounts by email, of a ``CAMWATCH_ID_TOKEN_CALLERS`` document."""
    return {str(e["email"]).lower(): _caller(e, "service_account") for e in doc["callers"]}


def key_entry(name: str, key: str, scopes: Iterable[str], per_minute: int | None) -> dict[str, Any]:
    """The JSON entry of ``key`` to add to the keys' secret."""
    entry: dict[str, Any] = {"name": name, "sha256": hash_key(key), "scopes": sorted(set(scopes))}
    if per_minute is not None:
        entry["per_minute"] = per_minute
    return entry
