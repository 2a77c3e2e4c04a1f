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

from mlops_magics.workspace import PRIVATE_FILE

log = logging.getLogger("mlops.serving.tokens")
TOKEN_BYTES = 32
DIGEST_LENGTH = 64  # hex SHA-256


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


def write_digest(path: Path, sha256: str) -> None:
    """Write a token's digest for a deployment process to check requests against: owner-only, and in place (same
    file, same length), so a process that holds it open sees a rotated token at once. A request read in the very
    microsecond of a rotation may see neither digest whole: it is refused, as the old token now is anyway."""
    data = sha256.encode()
    if len(data) != DIGEST_LENGTH:
        raise ValueError("a token digest is 64 hex characters")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, DIGEST_LENGTH)
    finally:
        os.close(fd)


class DigestFile:
    """A deployment worker's check of bearer tokens against the digest file the controller writes.

    The file is held open and read on each check (one ``pread``, ~0.4 us), so a rotated token is the only one
    accepted as soon as the controller has written it, with no restart. A missing or unreadable file accepts
    nothing: a deployment asked to require a token never serves without one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._missing_said = False

    def _expected(self) -> bytes:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                if not self._missing_said:
                    log.error("cannot read the token digest %s (%s): every request is refused", self.path, exc.strerror)
                    self._missing_said = True
                return b""
        try:
            data = os.pread(self._fd, DIGEST_LENGTH, 0)
        except OSError:
            return b""
        return data if len(data) == DIGEST_LENGTH else b""

    def accepts(self, authorization: str) -> bool:
        """Whether an ``Authorization`` header carries the token (compared in constant time, as digests)."""
        expected = self._expected()
        token = bearer(authorization)
        if not expected or token is None:
            return False
        return hmac.compare_digest(digest(token).encode(), expected)
