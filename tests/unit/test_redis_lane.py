"""``redis_lane.pack``: the writer's own RESP encoding, checked against redis-py's."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection

from sanic_wsns.broker.redis_lane import pack

words = st.one_of(st.binary(max_size=40), st.text(max_size=20), st.integers(-(2**40), 2**40))
#: redis-py splits a first word holding a space ("CONFIG GET"); the writer's never do.
commands = st.tuples(st.sampled_from(["PUBLISH", "SPUBLISH", "EVALSHA"]), st.lists(words, max_size=6)).map(
    lambda name_args: (name_args[0], *name_args[1]))


def test_a_batch_is_each_command_in_resp_one_after_the_other():
    assert pack([("PUBLISH", "wsns:/maps/1", b"\x00{}"), ("EVALSHA", "ab", 2)]) == (
        b"*3\r\n$7\r\nPUBLISH\r\n$12\r\nwsns:/maps/1\r\n$3\r\n\x00{}\r\n"
        b"*3\r\n$7\r\nEVALSHA\r\n$2\r\nab\r\n$1\r\n2\r\n")


@given(st.lists(commands, min_size=1, max_size=4))
def test_pack_writes_what_redis_py_writes(batch):
    # An unconnected Connection packs without any I/O: the reference encoding.
    reference = Connection()
    assert pack(batch) == b"".join(reference.pack_commands(batch))
