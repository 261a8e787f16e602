"""A REST handler that broadcasts to a namespace's clients, on every instance.

``POST /news/<topic>`` may land on any instance (or worker): ``pattern.broadcast`` needs
no local client and no local namespace; with a Redis broker the frame reaches the
topic's clients wherever they are connected.
"""

from pathlib import Path

import msgspec
from sanic import Sanic
from sanic.response import json

from sanic_wsns import WsNamespaces

app = Sanic("rest_broadcast")
wsns = WsNamespaces(app)
news = wsns.pattern("/ws/news/<topic:slug>")       # no authorize hook: anyone may listen
app.static("/", Path(__file__).with_name("rest_broadcast.html"), name="page")


class Headline(msgspec.Struct):
    text: str


@app.post("/news/<topic:slug>")
async def publish(request, topic):
    # A real app authenticates whoever may publish; here anyone may.
    try:
        headline = msgspec.json.decode(request.body, type=Headline)
    except msgspec.DecodeError as error:       # not JSON, or not {"text": str}
        return json({"error": str(error)}, status=400)
    await news.broadcast({"topic": topic}, "headline", headline)
    return json({"sent": True}, status=202)


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
