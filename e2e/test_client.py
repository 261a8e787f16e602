"""The browser client (js-client/wsns.js) in Chromium, against a real server process.

Each test opens its own namespace paths, so tests sharing the module's server do not see
each other. The v1.1 tests at the end (recovery, duplicates, resync jitter, presence, query)
talk to the app's scripted server, which sends the frames each test plans.

Waits are bounded; the only plain waits are observation windows in which
something must *not* happen (a retry after a denial, an attempt after close()).
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from e2e.client_fixtures import (
    TIMER_PROBE,
    ClientPage,
    said,
    welcome,
)
from tests.support.polling import wait_until

ROOT = Path(__file__).resolve().parent.parent
CLIENT_JS = ROOT / "js-client" / "wsns.js"
#: Fast retries, and resync listeners called at once (no jitter).
FAST = {"backoff": {"base": 50, "max": 200}, "resyncJitter": 0}
#: Long enough that a retry that should not happen would have happened (backoff max 200 ms).
QUIET_MS = 800


def test_client_js_is_served_as_javascript_with_an_etag(client_server):
    with urllib.request.urlopen(client_server.url + "/wsns/client.js", timeout=5) as response:
        body = response.read()
        assert response.headers["Content-Type"].startswith("text/javascript")
        etag = response.headers["ETag"]
    assert body == CLIENT_JS.read_bytes()
    assert etag
    revalidate = urllib.request.Request(client_server.url + "/wsns/client.js",
                                        headers={"If-None-Match": etag})
    with pytest.raises(urllib.error.HTTPError) as not_modified:
        urllib.request.urlopen(revalidate, timeout=5)
    assert not_modified.value.code == 304


def test_the_built_wheel_ships_the_client_itself_not_a_symlink(tmp_path):
    # sanic_wsns/static/wsns.js is a symlink to js-client/wsns.js; pip users need the file.
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                   check=True, timeout=300)
    [wheel] = tmp_path.glob("sanic_wsns-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("sanic_wsns/static/wsns.js") == CLIENT_JS.read_bytes()


def test_welcome_opens_the_connection_and_a_request_gets_its_reply(client: ClientPage):
    assert client.track("a", "/ws/echo/welcome") == "connecting"
    client.wait_state("a", "open")
    welcome = client.log("a")["welcomes"][0]
    assert welcome["path"] == "/ws/echo/welcome"
    assert welcome["protocol"] == 1
    assert welcome["limits"]["max_frame_size"] > 0
    assert client.js("() => conns.a.ns.clientId") == welcome["client_id"]
    assert client.request("a", "echo", {"n": [1, 2, 3]}) == {"ok": True, "value": {"n": [1, 2, 3]}}
    assert client.states("a") == ["open"]
    assert client.log("a")["resyncs"] == []


def test_a_request_made_while_connecting_is_sent_once_open(client: ClientPage):
    outcome = client.js("""() => { track("a", "/ws/echo/early");
                                   return outcome(conns.a.ns.request("echo", "early")); }""")
    assert outcome == {"ok": True, "value": "early"}


def test_a_request_without_reply_in_time_rejects_with_timeout(client: ClientPage):
    client.track("a", "/ws/echo/timeout")
    client.wait_state("a", "open")
    outcome = client.request("a", "slow", {"seconds": 1.0}, timeout=200)
    assert outcome["ok"] is False
    assert outcome["isWsnsError"] and outcome["code"] == "timeout"
    # The late reply is ignored and the connection goes on.
    assert client.request("a", "slow", {"seconds": 0}) == {"ok": True, "value": "late"}
    assert client.state("a") == "open"


def test_an_error_reply_rejects_with_the_protocol_code(client: ClientPage):
    client.track("a", "/ws/echo/errors")
    client.wait_state("a", "open")
    conflict = client.request("a", "fail", {"version": 3})
    assert conflict["isWsnsError"] and conflict["name"] == "WsnsError"
    assert conflict["code"] == "conflict"
    assert conflict["message"] == "stale version"
    assert conflict["details"] == {"current": {"version": 3}}
    assert client.request("a", "no-such-type")["code"] == "unknown_type"
    assert client.request("a", "slow", "not an object")["code"] == "invalid_data"


def test_an_error_answering_a_send_is_an_error_event(client: ClientPage):
    client.track("a", "/ws/echo/send-error")
    client.wait_state("a", "open")
    client.js("() => conns.a.ns.send('no-such-type', 1)")
    client.page.wait_for_function("conns.a.log.errors.length === 1", timeout=5_000)
    assert client.log("a")["errors"][0]["code"] == "unknown_type"


def test_a_dropped_connection_sends_keyed_requests_again_then_reconnects_with_resync(client: ClientPage):
    client.track("a", "/ws/echo/drop", **FAST)
    client.wait_state("a", "open")
    # The server drops the connection instead of answering this request. The client sends it
    # again, same key, after the reconnect: the handler does not run again (it would drop the
    # connection again), and the first answer (null) comes back.
    assert client.request("a", "drop") == {"ok": True, "value": None}
    log = client.log("a")
    assert [s for s, _ in log["states"]] == ["open", "reconnecting", "open"]
    reconnecting = log["states"][1][1]
    assert reconnecting["code"] == 1012 and reconnecting["reason"] == "connection_lost"
    assert log["resyncs"] == [{"data": {"reason": "reconnected"}, "server": False}]
    assert client.request("a", "echo", 1) == {"ok": True, "value": 1}


def test_with_retry_false_a_dropped_connection_fails_the_sent_request(client: ClientPage):
    client.track("a", "/ws/echo/drop", **FAST)
    client.wait_state("a", "open")
    assert client.request("a", "drop", retry=False)["code"] == "disconnected"
    client.wait_state("a", "open")
    assert client.request("a", "echo", 1) == {"ok": True, "value": 1}


@pytest.mark.parametrize(("end", "code"), [("kill", 1006), ("stop", 1001)])
def test_server_restart_on_the_same_port_reconnects_and_resyncs(page, own_client_server, end, code):
    server = own_client_server()
    client = ClientPage(page, server).load()
    client.track("a", "/ws/echo/restart", **FAST)
    client.wait_state("a", "open")
    first_id = client.js("() => conns.a.ns.clientId")
    getattr(server, end)()
    client.wait_state("a", "reconnecting")
    server.start()
    client.wait_state("a", "open", timeout=10_000)
    log = client.log("a")
    assert [s for s, _ in log["states"]] == ["open", "reconnecting", "open"]
    assert log["states"][1][1]["code"] == code
    assert log["resyncs"] == [{"data": {"reason": "reconnected"}, "server": False}]
    assert client.js("() => conns.a.ns.clientId") not in (None, first_id)
    assert client.request("a", "echo", "again") == {"ok": True, "value": "again"}


def test_backoff_delays_grow_and_are_fully_jittered(client: ClientPage):
    path = "/ws/deny/busy-backoff"  # 1013 each time: retry-worthy, never welcomed
    base, cap = 25, 800
    client.track("a", path, backoff={"base": base, "max": cap})
    times = wait_until(lambda: (t := client.attempts(path)) and len(t) >= 12 and t,
                       timeout=20, what="12 attempts")
    client.js("() => conns.a.ns.close()")
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(times)][:11]
    caps = [min(cap, base * 2**k) for k in range(11)]
    slack = 150  # connecting and being refused take a few ms; timers fire a little late
    for k, (gap, limit) in enumerate(zip(gaps, caps, strict=True)):
        assert gap <= limit + slack, f"gap {k} = {gap:.0f} ms over its cap {limit} ms: {gaps}"
    # Early gaps are bounded by small caps, late ones are spread over [0, 800): the sum of the
    # six late gaps is below 600 ms with probability < 3e-4, the first three are below 475.
    assert sum(gaps[5:]) > 600, gaps
    assert max(gaps[5:]) - min(gaps[5:]) > 50, f"not jittered: {gaps}"


@pytest.mark.parametrize(("kind", "code"),
                         [("unauthenticated", 4401), ("forbidden", 4403), ("not_found", 4404)])
def test_a_denial_is_final_and_tells_its_reason(client: ClientPage, kind, code):
    path = f"/ws/deny/{kind}"
    client.track("a", path, **FAST)
    client.wait_state("a", "denied")
    detail = client.js("() => conns.a.ns.reason")
    assert detail == {"reason": kind, "code": code, "message": f"refused: {kind}"}
    assert client.log("a")["states"] == [["denied", detail]]
    client.page.wait_for_timeout(QUIET_MS)
    assert len(client.attempts(path)) == 1
    assert client.request("a", "echo", 1)["code"] == "closed"


def test_a_removed_namespace_closes_without_retry(client: ClientPage):
    path = "/ws/echo/removed"
    client.track("a", path, **FAST)
    client.wait_state("a", "open")
    urllib.request.urlopen(urllib.request.Request(f"{client.server.url}/remove?path={path}", method="POST"),
                           timeout=5)
    client.wait_state("a", "closed")
    assert client.js("() => conns.a.ns.reason") == {"reason": "removed", "code": 4410,
                                                    "message": "resource deleted"}
    client.page.wait_for_timeout(QUIET_MS)
    assert len(client.attempts(path)) == 1
    assert client.states("a") == ["open", "closed"]


@pytest.mark.parametrize(("path", "action", "reason", "code"), [
    ("/ws/echo/kicked", "kick", "server_closed", 1000),
    ("/ws/param/" + "9" * 250, None, "policy_violation", 1008),
])
def test_a_normal_or_policy_close_by_the_server_is_final(client: ClientPage, path, action, reason, code):
    client.track("a", path, **FAST)
    if action:
        client.wait_state("a", "open")
        client.js("a => conns.a.ns.send(a)", action)
    client.wait_state("a", "closed")
    assert client.js("() => conns.a.ns.reason")["reason"] == reason
    assert client.js("() => conns.a.ns.reason")["code"] == code
    client.page.wait_for_timeout(QUIET_MS)
    assert len(client.attempts(path)) == 1


def test_it_gives_up_after_max_attempts_failed_reconnects(client: ClientPage):
    path = "/ws/deny/busy-gave-up"
    client.track("a", path, maxAttempts=2, **FAST)
    client.wait_state("a", "closed")
    assert client.js("() => conns.a.ns.reason") == {"reason": "gave_up", "code": 1013,
                                                    "message": "refused: busy"}
    assert client.states("a") == ["reconnecting", "closed"]
    assert len(client.attempts(path)) == 3  # the first one and two retries


def test_sends_made_while_offline_are_flushed_in_order(page, own_client_server):
    server = own_client_server()
    client = ClientPage(page, server).load()
    client.track("a", "/ws/echo/offline", **FAST)
    client.wait_state("a", "open")
    server.kill()
    client.wait_state("a", "reconnecting")
    client.js("""() => {
        for (let i = 1; i <= 10; i++) conns.a.ns.send("record", i);
        window.queued = outcome(conns.a.ns.request("echo", "between"));
        for (let i = 11; i <= 20; i++) conns.a.ns.send("record", i);
    }""")
    server.start()
    client.wait_state("a", "open", timeout=10_000)
    assert client.js("() => queued") == {"ok": True, "value": "between"}
    assert client.request("a", "recorded") == {"ok": True, "value": list(range(1, 21))}


def test_queue_overflow_is_an_error_not_a_silent_drop(client: ClientPage):
    client.track("a", "/ws/deny/busy-queue", queueLimit=3, backoff={"base": 600_000, "max": 600_000})
    client.wait_state("a", "reconnecting")
    result = client.js("""async () => {
        const ns = conns.a.ns;
        for (let i = 0; i < 3; i++) ns.send("record", i);
        let thrown = null;
        try { ns.send("record", 3); } catch (e) {
            thrown = { code: e.code, isWsnsError: e instanceof wsns.WsnsError };
        }
        return { thrown, request: await outcome(ns.request("echo", 1)) };
    }""")
    assert result["thrown"] == {"code": "queue_full", "isWsnsError": True}
    assert result["request"]["code"] == "queue_full"


def test_a_frozen_server_is_detected_by_the_heartbeat_then_recovered(page, own_client_server):
    # The welcome says heartbeat_interval 1 s; the client's timeout defaults to the interval.
    server = own_client_server("--ping-interval", "1")
    client = ClientPage(page, server).load()
    client.track("a", "/ws/echo/frozen", connectTimeout=1000, **FAST)
    client.wait_state("a", "open")
    assert client.log("a")["welcomes"][0]["heartbeat_interval"] == 1.0
    server.freeze()
    frozen_at = client.js("() => performance.now()")
    client.wait_state("a", "reconnecting", timeout=5_000)
    detected_at = next(t for s, t in client.log("a")["stateTimes"] if s == "reconnecting")
    assert client.log("a")["states"][1][1]["reason"] == "heartbeat_timeout"
    assert detected_at - frozen_at <= 1000 + 1000 + 300  # interval + timeout + slack
    server.thaw()
    client.wait_state("a", "open", timeout=10_000)
    assert client.log("a")["resyncs"] == [{"data": {"reason": "reconnected"}, "server": False}]
    assert client.request("a", "echo", "alive") == {"ok": True, "value": "alive"}


def test_close_leaves_no_timer_and_makes_no_further_attempt(page, client_server):
    page.add_init_script(TIMER_PROBE)
    client = ClientPage(page, client_server).load()
    path = "/ws/deny/busy-close"
    client.track("a", path, backoff={"base": 50, "max": 100})
    wait_until(lambda: len(client.attempts(path)) >= 3, timeout=5, what="3 attempts")
    client.js("() => { window.late = outcome(conns.a.ns.request('echo', 1)); conns.a.ns.close(); }")
    assert client.js("() => conns.a.ns.state") == "closed"
    assert client.js("() => conns.a.ns.reason")["reason"] == "closed"
    assert client.js("() => late")["code"] == "closed"
    assert client.js("() => window.__timers.size") == 0
    seen = len(client.attempts(path))
    client.page.wait_for_timeout(QUIET_MS)
    assert len(client.attempts(path)) == seen
    thrown = client.js("() => { try { conns.a.ns.send('x', 1); } catch (e) { return e.code; } }")
    assert thrown == "closed"


def test_the_online_event_retries_at_once(client: ClientPage):
    path = "/ws/deny/busy-online"
    client.track("a", path, backoff={"base": 600_000, "max": 600_000})
    client.wait_state("a", "reconnecting")
    seen = len(client.attempts(path))
    client.page.context.set_offline(True)
    client.page.context.set_offline(False)
    wait_until(lambda: len(client.attempts(path)) > seen, timeout=3, what="an attempt on online")


def test_namespaces_are_independent_and_connect_again_gives_a_fresh_one(client: ClientPage):
    client.track("a", "/ws/echo/one", **FAST)
    client.track("b", "/ws/echo/two", **FAST)
    client.track("c", "/ws/deny/forbidden-other", **FAST)
    for name, state in (("a", "open"), ("b", "open"), ("c", "denied")):
        client.wait_state(name, state)
    client.js("() => conns.a.ns.close()")
    assert client.request("b", "echo", "b") == {"ok": True, "value": "b"}
    client.js("() => conns.b.ns.send('say', 'to b')")
    client.page.wait_for_function("conns.b.log.frames.length === 1", timeout=5_000)
    assert client.log("a")["frames"] == []
    client.track("a2", "/ws/echo/one", **FAST)
    client.wait_state("a2", "open")
    assert client.request("a2", "echo", "a2") == {"ok": True, "value": "a2"}
    assert client.state("a") == "closed"
    assert client.request("a", "echo", 1)["code"] == "closed"


# -- wire protocol v1.1, against the app's scripted server (see e2e/apps/client_app.py) ----

def test_a_reconnect_asks_for_the_frames_after_its_last_offset_and_they_arrive_as_events(client: ClientPage):
    path = "/v11/recover"
    client.plan(path,
                [welcome(path, 5), said(6), said(7)],
                [welcome(path, 9, recovered=True), said(8), said(9)])
    client.track("a", path, **FAST)
    client.wait_log("a", "frames", 2)
    assert client.js("() => conns.a.ns.position") == {"offset": 7, "epoch": "e1"}
    client.drop(path)
    assert client.wait_log("a", "frames", 4) == [6, 7, 8, 9]
    first, second = client.queries(path)
    assert "since" not in first and "epoch" not in first
    assert second == {"since": "7", "epoch": "e1"}
    assert client.states("a") == ["open", "reconnecting", "open"]
    assert client.log("a")["resyncs"] == []  # recovered: nothing to re-fetch
    assert client.js("() => conns.a.ns.position") == {"offset": 9, "epoch": "e1"}


def test_a_frame_whose_offset_the_client_has_never_reaches_the_app(client: ClientPage):
    path = "/v11/duplicates"
    no_offset = {"type": "said", "data": "no offset"}
    client.plan(path,
                [welcome(path, 10), said(11), said(12), said(11), said(10), no_offset, said(13)],
                # Recovered frames that overlap what the client has, then a live duplicate.
                [welcome(path, 15, recovered=True), said(12), said(13), said(14), said(15), said(15)])
    client.track("a", path, **FAST)
    assert client.wait_log("a", "frames", 4) == [11, 12, "no offset", 13]
    client.drop(path)
    client.wait_log("a", "frames", 6)
    client.push(path, said(16))  # frames arrive in order: once 16 is in, the rest was handled
    assert client.wait_log("a", "frames", 7) == [11, 12, "no offset", 13, 14, 15, 16]
    assert client.queries(path)[1] == {"since": "13", "epoch": "e1"}


def test_a_failed_recovery_gives_the_servers_resync_with_its_reason_once(client: ClientPage):
    path = "/v11/not-recovered"
    client.plan(path,
                [welcome(path, 3), said(4)],
                [welcome(path, 50, epoch="e2", recovered=False),
                 {"type": "resync", "data": {"reason": "epoch_changed"}}, said(51)])
    client.track("a", path, **FAST)
    client.wait_log("a", "frames", 1)
    client.drop(path)
    assert client.wait_log("a", "frames", 2) == [4, 51]
    assert client.queries(path)[1] == {"since": "4", "epoch": "e1"}
    assert client.log("a")["resyncs"] == [{"data": {"reason": "epoch_changed"}, "server": True}]
    assert client.js("() => conns.a.ns.position") == {"offset": 51, "epoch": "e2"}


def test_resync_listeners_run_after_a_random_delay_and_merge_resyncs_meanwhile(client: ClientPage):
    path = "/v11/jitter"  # nothing planned: plain v1 welcomes
    jitter = 2000
    names = [f"p{i}" for i in range(6)]
    for name in names:
        client.track(name, path, resyncJitter=jitter)
    for name in names:
        client.wait_state(name, "open")
    sent_at = client.js("() => performance.now()")
    client.push(path, {"type": "resync", "data": {"reason": "broker_lost"}},
                {"type": "resync", "data": {"reason": "overflow"}})
    delays = [client.wait_log(name, "resyncTimes", 1, timeout=jitter + 5_000)[0] - sent_at for name in names]
    # Six pages told at once: their re-fetches spread over the jitter window. All six within
    # 100 ms of each other has a probability of about 6 * (100 / 2000) ** 5 = 2e-6.
    assert max(delays) - min(delays) > 100, delays
    client.page.wait_for_timeout(jitter)  # long enough for a second, unmerged resync to fire
    first = {"data": {"reason": "broker_lost"}, "server": True}
    for name, delay in zip(names, delays, strict=True):
        resyncs = client.log(name)["resyncs"]
        assert resyncs[0] == first, (name, resyncs)
        # The second resync comes right behind the first: merged into it while the page waits.
        # A page whose random delay ran out before it arrived (a few ms of 2,000: CI saw one)
        # rightly takes it as a resync of its own.
        if delay > 100:
            assert resyncs == [first], (name, delay, resyncs)


def test_presence_follows_state_and_diffs_and_a_reconnect_state_replaces_it(client: ClientPage):
    path = "/v11/presence"
    ann, bob, cy, me = {"name": "Ann"}, {"name": "Bob"}, {"name": "Cy"}, {"name": "Me"}
    client.plan(path,
                [welcome(path),
                 {"type": "presence_state", "data": {"a": ann, "me1": me}},
                 {"type": "presence_diff", "data": {"joins": {"b": bob}, "leaves": {}}},
                 {"type": "presence_diff", "data": {"joins": {}, "leaves": {"a": ann}}}],
                [welcome(path),
                 {"type": "presence_state", "data": {"me2": me, "b": bob, "c": cy}, "truncated": True}])
    client.track("a", path, **FAST)
    assert client.wait_log("a", "presence", 3) == [
        {"members": {"a": ann, "me1": me}, "change": {"joins": {"a": ann, "me1": me}, "leaves": {}}},
        {"members": {"a": ann, "me1": me, "b": bob}, "change": {"joins": {"b": bob}, "leaves": {}}},
        {"members": {"me1": me, "b": bob}, "change": {"joins": {}, "leaves": {"a": ann}}},
    ]
    assert client.js("() => conns.a.ns.presenceTruncated") is False
    client.drop(path)
    assert client.wait_log("a", "presence", 4)[3] == {
        "members": {"me2": me, "b": bob, "c": cy},
        "change": {"joins": {"me2": me, "c": cy}, "leaves": {"me1": me}},
    }
    assert client.js("() => Object.fromEntries(conns.a.ns.presence)") == {"me2": me, "b": bob, "c": cy}
    assert client.js("() => conns.a.ns.presenceTruncated") is True
    assert client.js("() => conns.a.presenceMap === conns.a.ns.presence"), "one live Map throughout"


def test_the_query_function_is_called_before_every_attempt_and_a_failure_is_retried(client: ClientPage):
    path = "/v11/query"
    client.plan(path, [welcome(path, 1)], [welcome(path, 1, recovered=True)])
    client.js("""([path, fast]) => {
        window.queryCalls = 0;
        track("a", path, { ...fast, query: async () => {
            queryCalls += 1;
            await new Promise((resolve) => setTimeout(resolve, 20));  // as fetching a token would
            if (queryCalls === 1) throw new Error("token service down");
            return { token: `t${queryCalls}`, since: "999", epoch: "app", unset: null };
        } });
    }""", [path, FAST])
    client.wait_state("a", "open")
    client.drop(path)
    client.page.wait_for_function("conns.a.log.states.filter(([s]) => s === 'open').length === 2",
                                  timeout=5_000)
    # The failed call made no upgrade; the app's since/epoch were never sent, the client's were.
    assert client.queries(path) == [{"token": "t2"}, {"token": "t3", "since": "1", "epoch": "e1"}]
    assert client.js("() => queryCalls") == 3
    states = client.log("a")["states"]
    assert [s for s, _ in states] == ["reconnecting", "open", "reconnecting", "open"]
    assert states[0][1]["reason"] == "query_failed"
    assert states[0][1]["message"] == "the query option failed: token service down"


def test_a_query_object_is_sent_on_every_attempt(client: ClientPage):
    path = "/v11/query-object"
    client.track("a", path, query={"token": "fixed", "n": 2, "since": "5"}, **FAST)
    client.wait_state("a", "open")
    client.drop(path)
    client.page.wait_for_function("conns.a.log.states.filter(([s]) => s === 'open').length === 2",
                                  timeout=5_000)
    assert client.queries(path) == [{"token": "fixed", "n": "2"}] * 2
