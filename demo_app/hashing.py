"""Password hashing on threads of its own, so that scrypt never delays anything else.

An scrypt hash costs about 50 ms of CPU and 16 MiB. On the event loop's default thread
pool, which also reads the static files, a stream of sign-ins took ``GET /`` from 0.8 ms
to 378 ms median. Here at most ``threads`` hashes run at once, on their own pool; the
sign-in throttles (``api.sign_in``) bound how many wait for one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .accounts import hash_password, verify_password

T = TypeVar("T")

#: Hashes computed at once: enough for sign-ins to overlap, few enough that the CPU and
#: memory they take stay small next to the rest of the server.
HASH_THREADS = 2


class PasswordHasher:
    def __init__(self, threads: int = HASH_THREADS):
        self.threads = threads
        #: Public so that a test can hold every hashing thread (a forced interleaving).
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bubblemap-scrypt")

    async def hash(self, password: str) -> str:
        return await self._run(hash_password, password)

    async def verify(self, password: str, stored: str) -> bool:
        return await self._run(verify_password, password, stored)

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
