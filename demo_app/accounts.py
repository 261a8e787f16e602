"""Accounts as pure functions: who a name is, and whether a password matches.

A name is shown as first typed, but two names that read the same are one account: the
key is the NFKC-normalised, case-folded form, so "ADA", "ada" typed in full-width letters and "ada"
sign in to the same account. Passwords are hashed with the standard library's scrypt
under a random salt; the parameters travel with the hash, so they can be raised later
without invalidating stored accounts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata

#: scrypt cost: 16 MiB and about 50 ms per hash here (OWASP's minimum is n=2**17 with
#: r=8 at 128 MiB; a demo on shared machines takes the lighter interactive setting).
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_SCHEME = "scrypt"


def name_key(name: str) -> str:
    """The account a name belongs to (Unicode's NFKC_Casefold, closed under repetition)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$n$r$p$salt$key`` (salt and key in URL-safe base64): all ``verify`` needs."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, n, r, p)
    return "$".join([_SCHEME, str(n), str(r), str(p), _b64(salt), _b64(key)])


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (constant-time compare)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.urlsafe_b64decode(key)
        actual = _scrypt(password, base64.urlsafe_b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):  # a damaged row: no password matches it
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p,
                          maxmem=2 * 128 * r * n, dklen=_KEY_BYTES)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()
