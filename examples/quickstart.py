"""Quick start: a chat room per URL. Run it, open http://127.0.0.1:8000 in two tabs."""

from pathlib import Path

import msgspec
from sanic import Sanic
from sanic.response import json

from sanic_wsns import Unauthorized, WsNamespaces

app = Sanic("rooms")
wsns = WsNamespaces(app)                       # broker: env SANIC_WSNS_BROKER, default memory://
rooms = wsns.pattern("/ws/rooms/<room_id:int>")
app.static("/", Path(__file__).with_name("quickstart.html"), name="page")


class Say(msgspec.Struct):
    text: str


@rooms.authorize                               # before the handshake; nothing exists yet
async def can_join(request, room_id):
    user = request.cookies.get("user")
    if not user:
        raise Unauthorized("sign in first")    # the client is closed with 4401
    return user                                # becomes client.identity (never sent)


@rooms.on("say")                               # data decoded and validated into Say
async def say(ns, client, data: Say):
    await ns.broadcast("said", {"by": client.identity, "text": data.text})
    return "ok"                                # the reply, when the frame had an id


@app.post("/sign-in")                          # a demo: any name, unsigned cookie
async def sign_in(request):
    name = str((request.json or {}).get("name", "")).strip()
    if not (name.isascii() and name.isalnum() and len(name) <= 40):
        return json({"error": "a name is 1 to 40 letters or digits"}, status=400)
    response = json({"name": name})
    response.add_cookie("user", name, httponly=True, samesite="Lax", secure=request.scheme == "https")
    return response


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
