"""The emitter on ``memory://``: a command run inside the app's process (a management
command, a background job) reaches the app's clients; Redis: tests/integration/redis."""

from sanic_wsns import WsNamespaces
from sanic_wsns.emitter import Emitter
from tests.support.servers import new_app, serve
from tests.support.wsclient import join, recv_json


async def test_on_memory_an_emitter_in_the_app_s_process_reaches_its_clients():
    wsns = WsNamespaces(new_app(), broker="memory://emitter")
    rooms = wsns.pattern("/rooms/<room:int>")
    async with serve(wsns.app) as srv, Emitter("memory://emitter", patterns=[rooms]) as em:
        ws, _ = await join(srv.ws("/rooms/1"))
        await em.broadcast("/rooms/1", "news", "hello")
        assert await recv_json(ws) == {"type": "news", "data": "hello"}
        await ws.close()
