"""The in-process broker: same contract as Redis, within one process."""

import asyncio
import uuid

import pytest

from sanic_wsns.broker.memory import MemoryBroker
from sanic_wsns.errors import ConfigError


class Inbox:
    def __init__(self):
        self.got: list[tuple[str, bytes]] = []
        self.arrived = asyncio.Event()

    def __call__(self, channel, payload):
        self.got.append((channel, payload))
        self.arrived.set()

    async def wait(self, count: int) -> None:
        async def enough():
            while len(self.got) < count:
                self.arrived.clear()
                await self.arrived.wait()
        await asyncio.wait_for(enough(), 5)


@pytest.fixture
def url():
    return f"memory://{uuid.uuid4().hex}"  # one hub per test


async def started(url, inbox):
    broker = MemoryBroker(url, inbox, lambda channels: None)
    await broker.connect()
    return broker


async def test_a_publish_reaches_every_subscriber_of_the_url_the_publisher_included(url):
    a_inbox, b_inbox = Inbox(), Inbox()
    a, b = await started(url, a_inbox), await started(url, b_inbox)
    await a.subscribe("ch")
    await b.subscribe("ch")
    assert a.publish("ch", b"1") is True
    await a_inbox.wait(1)
    await b_inbox.wait(1)
    assert a_inbox.got == b_inbox.got == [("ch", b"1")]


async def test_payloads_arrive_in_call_order_and_not_in_the_publishers_stack(url):
    inbox = Inbox()
    broker = await started(url, inbox)
    await broker.subscribe("ch")
    for n in range(50):
        broker.publish("ch", str(n).encode())
    assert inbox.got == []  # call_soon: never delivered from inside publish
    await inbox.wait(50)
    assert [p for _, p in inbox.got] == [str(n).encode() for n in range(50)]


async def test_other_channels_and_other_urls_are_not_heard(url):
    inbox, elsewhere = Inbox(), Inbox()
    broker = await started(url, inbox)
    other = await started(url + "-other", elsewhere)
    await broker.subscribe("ch")
    await other.subscribe("ch")
    broker.publish("other-channel", b"x")
    broker.publish("ch", b"y")
    await inbox.wait(1)
    await asyncio.sleep(0)
    assert inbox.got == [("ch", b"y")] and elsewhere.got == []


async def test_a_payload_in_flight_is_not_delivered_after_unsubscribe(url):
    inbox = Inbox()
    broker = await started(url, inbox)
    await broker.subscribe("ch")
    broker.publish("ch", b"late")
    await broker.unsubscribe("ch")
    await asyncio.sleep(0)
    assert inbox.got == [] and broker.stats()["subscriptions"] == 0


async def test_subscription_is_in_place_when_subscribe_returns(url):
    inbox = Inbox()
    broker = await started(url, inbox)
    await broker.subscribe("ch")
    # subscription-before-admit: a publish right after subscribe returns is heard
    (await started(url, Inbox())).publish("ch", b"first")
    await inbox.wait(1)
    assert inbox.got == [("ch", b"first")]


async def test_disconnect_drops_every_subscription(url):
    inbox = Inbox()
    broker = await started(url, inbox)
    await broker.subscribe("a")
    await broker.subscribe("b")
    await broker.disconnect()
    assert broker.stats()["subscriptions"] == 0 and not broker.connected
    (await started(url, Inbox())).publish("a", b"after")
    await asyncio.sleep(0)
    assert inbox.got == []


async def test_stats_count_published_and_received(url):
    inbox = Inbox()
    broker = await started(url, inbox)
    await broker.subscribe("ch")
    broker.publish("ch", b"1")
    broker.publish("none", b"2")
    await inbox.wait(1)
    stats = broker.stats()
    assert (stats["published"], stats["received"], stats["publish_failed"]) == (2, 1, 0)


async def test_a_broker_built_alone_hears_through_the_handlers_registered_later(url):
    """As centrifuge's ``RegisterBrokerEventHandler``: built first (``broker=MemoryBroker(url)``),
    the hub's handlers come at start."""
    inbox = Inbox()
    broker = MemoryBroker(url)
    broker.register(inbox, lambda channels: None)
    await broker.connect()
    await broker.subscribe("ch")
    broker.publish("ch", b"1")
    await inbox.wait(1)
    assert inbox.got == [("ch", b"1")]
    await broker.disconnect()


def test_a_broker_serves_one_hub(url):
    """Two hubs on one broker object would each take the other's payloads: refused; the
    same hub registering again (its server started anew) is not."""
    broker, first = MemoryBroker(url), Inbox()
    restored = lambda channels: None  # noqa: E731
    broker.register(first, restored)
    broker.register(first, restored)
    with pytest.raises(ConfigError, match="serves a WsNamespaces already"):
        broker.register(Inbox(), restored)
