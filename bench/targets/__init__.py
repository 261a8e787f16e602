"""The servers under test, each runnable as ``python -m bench.targets.<name> --port N [--broker URL]``.

Every target serves the same contract so one load generator drives them all:

* a room per resource: joining room ``r`` subscribes the connection to it; the server's
  first frame to a new connection says it has joined (``welcome``, or Socket.IO's
  namespace ``CONNECT`` reply);
* an ``echo-all`` message is broadcast to its room, sender included;
* ``GET /_bench/state`` answers JSON: rooms (namespaces) and clients alive, asyncio
  tasks, and broker messages received (``broker_foreign``: for rooms not hosted here).
"""
