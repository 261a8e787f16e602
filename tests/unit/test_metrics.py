"""The wsns_* metrics: names, bounded labels, counters that follow the core's counts."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

from sanic_wsns.metrics import MULTIPROC_ENV, Metrics, Snapshot, outbox_totals, prepare_multiprocess


def sample(text: bytes, line: str) -> float:
    for row in text.decode().splitlines():
        if row.startswith(line + " "):
            return float(row.rsplit(" ", 1)[1])
    raise AssertionError(f"{line} not in metrics:\n{text.decode()}")


def test_every_metric_of_the_contract_is_exposed(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    text = Metrics(lambda: Snapshot(broker_up=True)).render().decode()
    for name in ("wsns_connections", "wsns_namespaces", "wsns_messages_received_total",
                 "wsns_messages_sent_total", "wsns_refusals_total", "wsns_broker_up",
                 "wsns_resyncs_total", "wsns_recoveries_total", "wsns_slow_consumer_closes_total",
                 "wsns_presence_members", "wsns_broadcast_seconds", "wsns_pubsub_lag_seconds",
                 "wsns_disconnects_total", "wsns_outbox_pending", "wsns_outbox_published_total",
                 "wsns_outbox_swept_total", "wsns_outbox_takeovers_total", "wsns_outbox_errors_total",
                 "wsns_transport_connections", "wsns_idempotent_repeats_total"):
        assert f"# TYPE {name.removesuffix('_total')}" in text, name


def test_counters_follow_the_cores_totals_and_gauges_its_current_values(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    snap = Snapshot(connections={"/r/<id:int>": 3}, received={"/r/<id:int>": 10},
                    refusals={"4401": 2}, broker_up=True)
    metrics = Metrics(lambda: snap)
    metrics.render()
    snap.received = {"/r/<id:int>": 25}
    snap.connections = {"/r/<id:int>": 1}
    text = metrics.render()
    assert sample(text, 'wsns_messages_received_total{pattern="/r/<id:int>"}') == 25
    assert sample(text, 'wsns_connections{pattern="/r/<id:int>"}') == 1
    assert sample(text, 'wsns_refusals_total{code="4401"}') == 2
    assert sample(text, "wsns_broker_up") == 1


def test_disconnects_are_counted_by_their_bounded_reason(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    snap = Snapshot(disconnects={"expired": 2, "user": 1})
    text = Metrics(lambda: snap).render()
    assert sample(text, 'wsns_disconnects_total{reason="expired"}') == 2
    assert sample(text, 'wsns_disconnects_total{reason="user"}') == 1


class Stats:
    def __init__(self, **counts: int):
        self.counts = counts

    def stats(self) -> dict[str, int]:
        return self.counts


def test_outbox_relays_are_summed_but_the_pending_rows_of_one_table_are_not():
    """Every relay on a table sees all its pending rows: the largest view, not the sum."""
    totals = outbox_totals([Stats(pending=4, published=3, failed_sweeps=1), Stats(pending=5, published=2)])
    assert totals == {"pending": 5, "published": 5, "failed_sweeps": 1}


def test_outbox_errors_are_counted_by_their_bounded_stage(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    snap = Snapshot(outbox={"pending": 2, "published": 7, "swept": 1, "taken_over": 1, "failed_sweeps": 3,
                            "unconfirmed": 4})
    text = Metrics(lambda: snap).render()
    assert sample(text, 'wsns_outbox_errors_total{stage="database"}') == 3
    assert sample(text, 'wsns_outbox_errors_total{stage="publish"}') == 4
    assert sample(text, "wsns_outbox_published_total") == 7
    assert sample(text, "wsns_outbox_pending") == 2


def test_two_metrics_in_one_process_do_not_collide(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    Metrics(Snapshot)
    Metrics(Snapshot)


def test_workers_are_summed_in_multiprocess_mode(tmp_path, monkeypatch):
    """Two worker processes count separately; any one of them renders the sum."""
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    prepare_multiprocess()
    worker = textwrap.dedent("""
        import sys
        from sanic_wsns.metrics import Metrics, Snapshot
        n = int(sys.argv[1])
        metrics = Metrics(lambda: Snapshot(connections={"p": n}, received={"p": 10 * n}, broker_up=True))
        metrics.sync()
        if n == 2:
            sys.stdout.buffer.write(metrics.render())
    """)
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    subprocess.run([sys.executable, "-c", worker, "1"], env=env, check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", worker, "2"], env=env, check=True, timeout=60,
                         capture_output=True).stdout
    assert sample(out, 'wsns_messages_received_total{pattern="p"}') == 30
    # Worker 1 exited without marking itself dead: its live gauge is cleared when the next
    # Metrics starts, so only worker 2's connections remain.
    assert sample(out, 'wsns_connections{pattern="p"}') == 2


def test_prepare_multiprocess_wipes_counts_left_by_a_previous_run(tmp_path, monkeypatch):
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    (tmp_path / "counter_123.db").write_bytes(b"old")
    assert prepare_multiprocess() == str(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_pattern_left_by_its_last_namespace_exports_zero_not_its_last_value(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    snap = Snapshot(connections={"/r/<id:int>": 2}, namespaces={"/r/<id:int>": 1},
                    presence_members={"/r/<id:int>": 2})
    metrics = Metrics(lambda: snap)
    metrics.render()
    snap.connections, snap.namespaces, snap.presence_members = {}, {}, {}  # the core omits it now
    text = metrics.render()
    for gauge in ("wsns_connections", "wsns_namespaces", "wsns_presence_members"):
        assert sample(text, f'{gauge}{{pattern="/r/<id:int>"}}') == 0, gauge


def test_a_declared_pattern_exports_zero_before_its_first_client(monkeypatch):
    monkeypatch.delenv(MULTIPROC_ENV, raising=False)
    text = Metrics(Snapshot, ["/r/<id:int>"]).render()
    assert sample(text, 'wsns_connections{pattern="/r/<id:int>"}') == 0


#: A worker process: its gauges and broker state from argv, synced to the shared folder; it
#: says "synced", stays alive until its stdin closes, then stops the way a Sanic worker
#: stops (``Metrics.stop``).
WORKER = textwrap.dedent("""
    import asyncio, sys
    from sanic_wsns.metrics import Metrics, Snapshot
    connections, broker_up = int(sys.argv[1]), sys.argv[2] == "up"
    metrics = Metrics(lambda: Snapshot(connections={"p": connections}, broker_up=broker_up))
    metrics.sync()
    print("synced", flush=True)
    sys.stdin.read()
    asyncio.run(metrics.stop())
""")


@contextlib.contextmanager
def live_worker(tmp_path, connections: int, broker: str) -> Iterator[None]:
    env = {**os.environ, MULTIPROC_ENV: str(tmp_path)}
    with subprocess.Popen([sys.executable, "-c", WORKER, str(connections), broker], env=env,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as worker:
        assert worker.stdout is not None and worker.stdin is not None
        try:
            assert worker.stdout.readline() == "synced\n"
            yield
        finally:
            worker.stdin.close()
            assert worker.wait(timeout=60) == 0


def scrape_folder(tmp_path) -> bytes:
    """What a scrape renders from the shared folder, without starting a Metrics (whose start
    would clear dead workers' files on their behalf)."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(tmp_path))
    return generate_latest(registry)


def test_a_worker_that_stopped_no_longer_counts_in_the_live_gauges(tmp_path, monkeypatch):
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    prepare_multiprocess()
    with live_worker(tmp_path, 2, "up"):
        with live_worker(tmp_path, 5, "up"):
            assert sample(scrape_folder(tmp_path), 'wsns_connections{pattern="p"}') == 7
        assert sample(scrape_folder(tmp_path), 'wsns_connections{pattern="p"}') == 2


def test_broker_up_is_zero_while_any_worker_has_lost_the_broker(tmp_path, monkeypatch):
    """livemin: the worker that lost Redis is not hidden by the one that still reaches it."""
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))
    prepare_multiprocess()
    with live_worker(tmp_path, 1, "up"), live_worker(tmp_path, 1, "down"):
        assert sample(scrape_folder(tmp_path), "wsns_broker_up") == 0
