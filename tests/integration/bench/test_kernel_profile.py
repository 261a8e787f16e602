"""bench.kernel_profile sorts perf samples by what their stack was doing (pure logic: a
perf script text written here, as ``perf script -F ip,sym,dso`` prints it)."""

from bench.kernel_profile import buckets

SCRIPT = """
\tffffffff8208d30a tcp_v4_rcv ([kernel.kallsyms])
\tffffffff8205a9cc sock_def_readable ([kernel.kallsyms])
\tffffffff81eb1bfe net_rx_action ([kernel.kallsyms])
\tffffffff8206652b tcp_sendmsg ([kernel.kallsyms])
\t          10ab59 __send (/usr/lib/x86_64-linux-gnu/libc.so.6)

\tffffffff8207e2b4 __tcp_transmit_skb ([kernel.kallsyms])
\tffffffff8206652b tcp_sendmsg ([kernel.kallsyms])
\t          10ab59 __send (/usr/lib/x86_64-linux-gnu/libc.so.6)

\tffffffff8207e2b4 ep_poll ([kernel.kallsyms])
\tffffffff8207e2b5 do_epoll_wait ([kernel.kallsyms])

\t          272a40 _PyEval_EvalFrameDefault (/root/.pyenv/versions/3.11.7/bin/python3.11)

\t           1a2b3 __pyx_f_6uvloop_4loop_UVStream__write (/x/uvloop/loop.cpython-311-x86_64-linux-gnu.so)

\tffffffff81000001 some_other_kernel_function ([kernel.kallsyms])
"""


def test_each_sample_goes_to_the_first_bucket_its_stack_matches() -> None:
    found = buckets(SCRIPT.splitlines())
    assert found["samples"] == 6
    shares = found["shares"]
    # The receive runs inside the send: it is counted as the receive, not as the send.
    assert shares["loopback receive: the client's TCP input and wake-up, run inside our send()"] == 1 / 6
    assert shares["send path: copy, segment, transmit"] == 1 / 6
    assert shares["epoll"] == 1 / 6
    assert shares["Python interpreter (our code, Sanic, websockets)"] == 1 / 6
    assert shares["uvloop (C)"] == 1 / 6
    assert shares["other kernel work"] == 1 / 6
    assert found["wake_up_share"] == 1 / 6


def test_no_samples_give_no_shares() -> None:
    assert buckets([]) == {"samples": 0, "shares": {}, "wake_up_share": None}
