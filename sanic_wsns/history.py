"""``History``: how much of a namespace's past a pattern keeps, so clients catch up from it.

Opt-in per pattern (``wsns.pattern(path, history=History())``). The defaults are sized for
the common case of a page that loses its connection for a moment or an instance that is
redeployed: 100 frames cover a busy collaborative page for tens of seconds, 300 s cover a
laptop lid closed over a coffee, and both bound the memory a namespace can hold (size times
frame size; see docs/recovery.md). Longer absences end in a ``resync``, as before.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from .errors import ConfigError

#: How long a stream's epoch and last offset outlive its last publish. Past it the next
#: publish starts a new epoch, so every client still holding an offset resyncs: long
#: enough that a quiet namespace keeps its numbering, short enough not to keep a key per
#: namespace forever.
META_TTL = 7 * 24 * 3600
#: Bytes of frames one namespace keeps at most: 100 frames of 5 KiB. A bound per stream
#: that does not depend on what the app broadcasts (``size`` alone lets 100 frames of
#: 64 KiB take 6.4 MB); past it the oldest frames go first, as past ``size``.
MAX_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class History:
    """Keep the last ``size`` frames of each namespace of a pattern, at most ``max_bytes``
    of them (the newest frame is always kept), for ``ttl`` seconds after the namespace's
    last broadcast."""

    size: int = 100
    ttl: float = 300.0
    meta_ttl: float = META_TTL
    max_bytes: int = MAX_BYTES

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 1:
            raise ConfigError(f"History(size={self.size!r}): keep at least 1 frame")
        if not isinstance(self.max_bytes, int) or self.max_bytes < 1:
            raise ConfigError(f"History(max_bytes={self.max_bytes!r}): keep at least 1 byte")
        if not self.ttl > 0:
            raise ConfigError(f"History(ttl={self.ttl!r}): the ttl must be positive (seconds)")
        if not self.meta_ttl >= self.ttl:
            raise ConfigError(f"History(meta_ttl={self.meta_ttl!r}): must be at least ttl={self.ttl}")


def new_epoch() -> str:
    """A fresh epoch: random, short, and never equal to the lost stream's."""
    return secrets.token_hex(4)
