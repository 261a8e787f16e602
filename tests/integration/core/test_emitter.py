"""The emitter on ``memory://``: a command run inside the app's process (a management
command, a background job) reaches the app's clients; Redis: tests/integration/redis."""

import asyncio

from sanic_wsns import WsNamespaces, testing
from sanic_wsns.emitter import Emitter
from tests.support.servers import new_app


async def test_on_memory_an_emitter_in_the_app_s_process_reaches_its_clients():
    wsns = WsNamespaces(new_app(), broker="memory://emitter")
    rooms = wsns.pattern("/rooms/<room:int>")
    async with testing.serve(wsns.app) as srv, Emitter("memory://emitter", patterns=[rooms]) as em:
        ns = await srv.connect("/rooms/1")
        frames = ns.frames()
        await em.broadcast("/rooms/1", "news", "hello")
        async with asyncio.timeout(5):
            assert await anext(frames) == {"type": "news", "data": "hello"}
