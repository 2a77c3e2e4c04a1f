"""Deployment bearer tokens: issued here, kept as their SHA-256 wherever they are only checked.

A token is 32 random bytes, so a plain SHA-256 is enough (nothing to guess, no slow hash needed). ``state.db``
and the deployment process hold only that digest: a crash restart, or a restore by a new controller, needs no
plain token. The plain token lives in one owner-only file of the workspace, read back on request only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path
from typing import Any

log = logging.getLogger("mlops.serving.tokens")
TOKEN_BYTES = 32


def issue() -> str:
    """A new token (43 URL-safe characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    """The hex SHA-256 of a token: what is stored and what a request is checked against."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, None for any other header."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip() or None


class Token(str):
    """A token handed to Python (``token = %deploy token NAME``): it works as the string it is, but its repr,
    which is what a notebook cell shows and saves, is masked."""

    def __repr__(self) -> str:
        return "<deployment token: hidden; use str(token), e.g. f'Bearer {token}'>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


class DigestFile:
    """A deployment process's check of bearer tokens against the digest file the controller writes.

    The file is looked at (one ``stat``) on each check and read again when it was replaced, so a rotated
    token is the only one accepted as soon as the controller has written it. A missing or unreadable file
    accepts nothing: a deployment asked to require a token never serves without one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int, int] | None = None
        self._expected = b""

    def _current(self) -> bytes:
        try:
            stat = os.stat(self.path)
        except OSError:
            if self._seen is not None:
                log.error("the token digest %s is gone: every request is refused until it is back", self.path)
            self._seen, self._expected = None, b""
            return b""
        seen = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if seen != self._seen:
            try:
                self._expected = self.path.read_text().strip().encode()
            except OSError:
                self._expected = b""
            self._seen = seen
        return self._expected

    def accepts(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header carries the token (compared in constant time, as digests)."""
        expected = self._current()
        token = bearer(authorization)
        if not expected or token is None:
            return False
        return hmac.compare_digest(digest(token).encode(), expected)
