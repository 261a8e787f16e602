"""Quick start: a chat room per URL. Run it, open http://127.0.0.1:8000 in two tabs."""

from pathlib import Path
from typing import Annotated

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


class SignIn(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(pattern="^[A-Za-z0-9]{1,40}$")]  # it becomes a cookie


@app.post("/sign-in")                          # a demo: any name, unsigned cookie
async def sign_in(request):
    try:
        name = msgspec.json.decode(request.body, type=SignIn).name
    except msgspec.DecodeError as error:       # not JSON, or no valid name
        return json({"error": str(error)}, status=400)
    response = json({"name": name})
    response.add_cookie("user", name, httponly=True, samesite="Lax", secure=request.scheme == "https")
    return response


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000)
