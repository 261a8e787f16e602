"""Accounts as pure functions: who a name is, and whether a password matches.

A name is shown as first typed, but two names that read the same are one account: the
key is the NFKC-normalised, case-folded form, so "ADA", "ada" typed in full-width letters
and "ada" sign in to the same account. Names that only *look* the same ("root" spelt with
Cyrillic "o" letters) have different keys, so a new name whose ``skeleton`` is an existing
account's is refused as taken: nobody registers a name that displays like another's.
Passwords are hashed with the standard library's scrypt under a random salt; the
parameters travel with the hash, so they can be raised later without invalidating stored
accounts.
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


#: Lower-case Cyrillic and Greek letters drawn like a Latin letter in common fonts (a
#: small hand-picked part of Unicode's confusables.txt, UTS #39), after ``name_key``.
_LOOK_ALIKES = str.maketrans(
    # Cyrillic, then Greek letters (escaped: they are what this table is about) ...
    "\u0430\u0432\u0433\u0434\u0435\u0437\u043a\u043c"  # abrde3km
    "\u043d\u043e\u043f\u0440\u0441\u0442\u0443\u0445"  # honpctyx
    "\u044c\u0455\u0456\u0457\u0458\u0501\u051b\u051d"  # bsiijdqw
    "\u04cf\u04bb\u04af\u03b1\u03b2\u03b3\u03b5\u03b7"  # lhyabyen
    "\u03b9\u03ba\u03bc\u03bd\u03bf\u03c1\u03c4\u03c5"  # ikuvoptu
    "\u03c7\u03c9",  # xw
    # ... and the Latin letter each is drawn like, in the same order.
    "abrde3kmhonpctyxbsiijdqwlhyabyenikuvoptuxw")


def skeleton(name: str) -> str:
    """What a name looks like: its key with Cyrillic and Greek look-alikes of Latin
    letters replaced by those letters. Two names with one skeleton display alike."""
    return name_key(name).translate(_LOOK_ALIKES)


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
