# ruff: noqa: RUF002  (the report is typeset: en dashes, multiplication and minus signs)
"""Run every workload against every target and write ``bench/BENCHMARKS.md`` and its plots.

``python -m bench.run [--runs 3] [--quick] [--workloads W1,history] [--targets wsns,raw]``

Runs are interleaved (run 1 of every cell, then run 2, ...) so a burst of outside load
smears over all targets instead of landing on one. Every cell gets fresh server
processes; one private redis-server serves the whole run. Raw figures go to
``bench/results/`` (git-ignored); the report shows medians with min–max, and ratios
computed run by run (each run's sanic-wsns figure over the same run's peer figure; for
the cost workloads, each run's "on" over the same run's "off"). SVG plots go to
``plots/`` beside the report. Parts with a shape of their own (the scale curve) plug in
as a ``Section``: appended to ``SECTIONS``, run after the cells, rendered and plotted
after the workload tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from bench.figures import Results
from bench.report import head_commit, write
from bench.sections import SECTIONS, Section
from bench.servers import ROOT, TARGET_NAMES, start_redis
from bench.workloads import FULL, QUICK, VARIANTS, WORKLOADS, Sizes, Skipped, wsns_redis_available
from tests.support.processes import ServerProcess

RESULTS = ROOT / "bench" / "results"


def run_cell(workload: str, target: str, sizes: Sizes, logs: Path, redis: ServerProcess) -> dict[str, Any]:
    """One workload against one target on fresh servers; failures become figures too."""
    started = time.monotonic()
    with ExitStack() as cell:
        try:
            figures = WORKLOADS[workload](cell, target, sizes, logs, redis)
        except Skipped as exc:
            figures = {"skipped": str(exc)}
        except Exception as exc:
            figures = {"error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
    print(f"{workload} {target:8s} {time.monotonic() - started:5.1f}s {json.dumps(figures)[:160]}",
          file=sys.stderr, flush=True)
    return figures


def run_all(workloads: list[str], targets: list[str], sizes: Sizes, runs: int,
            parallel: bool = False, sections: list[Section] | None = None, quick: bool = False,
            on_run: Callable[[Results, int], None] | None = None) -> tuple[Results, dict[str, Any]]:
    """Every cell ``runs`` times, then every section once; ``on_run(results, n)`` after each
    complete run (a checkpoint). A cost workload runs its variants in place of ``targets``.
    ``parallel`` runs a peer workload's targets side by side: only for the smoke run, whose
    figures are not compared (they would disturb each other); a cost workload's variants
    never share the machine, or their Redis counts would mix."""
    results: Results = {w: {t: [] for t in VARIANTS.get(w, targets)} for w in workloads}
    extra: dict[str, Any] = {}
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        redis = start_redis(stack, logs)
        for run in range(runs):
            print(f"run {run + 1}/{runs}", file=sys.stderr, flush=True)
            for workload in workloads:
                columns = list(results[workload])
                if parallel and workload not in VARIANTS:
                    with ThreadPoolExecutor(len(columns)) as pool:
                        cells = list(pool.map(partial(run_cell, workload, sizes=sizes, logs=logs,
                                                      redis=redis), columns))
                else:  # in the main thread, so Ctrl-C stops the run (and its children) at once
                    cells = [run_cell(workload, t, sizes, logs, redis) for t in columns]
                for target, figures in zip(columns, cells, strict=True):
                    results[workload][target].append(figures)
            if on_run is not None:
                on_run(results, run + 1)
        for section in SECTIONS if sections is None else sections:
            extra[section.name] = section.run(sizes, quick, redis)
    return results, extra


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the smoke test's run")
    parser.add_argument("--runs", type=int, default=None, help="runs per cell (default 3, quick 1)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--targets", default="wsns,raw,socketio")
    parser.add_argument("--out", type=Path, default=None,
                        help="default bench/BENCHMARKS.md (quick: bench/results/BENCHMARKS.quick.md)")
    parser.add_argument("--json", type=Path, default=None,
                        help="raw figures file (default bench/results/run-<time>.json)")
    parser.add_argument("--render", type=Path, default=None,
                        help="only rewrite the report from a raw figures file of an earlier run")
    parser.add_argument("--sections", default=None, metavar="NAMES",
                        help="run only these sections (comma-separated, of: "
                             + ", ".join(s.name for s in SECTIONS) + "); with --into, add them to a run")
    parser.add_argument("--into", type=Path, default=None, metavar="RAW",
                        help="the raw figures file of a run: the --sections, or else the --workloads, "
                             "run now replace its own (the report says when and at which commit they "
                             "ran), then its report is rewritten")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profile section")
    parser.add_argument("--parallel", action=argparse.BooleanOptionalAction, default=None,
                        help="run a workload's targets side by side (default: only with --quick)")
    args = parser.parse_args(argv)
    # A stopped run must still stop its servers: SIGTERM unwinds like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.render is not None:
        out = args.out or ROOT / "bench" / "BENCHMARKS.md"
        write(out, json.loads(args.render.read_text()))
        print(f"wrote {out} and its plots from {args.render}", file=sys.stderr)
        return out
    sizes = QUICK if args.quick else FULL
    runs = args.runs or (1 if args.quick else 3)
    out = args.out or (RESULTS / "BENCHMARKS.quick.md" if args.quick else ROOT / "bench" / "BENCHMARKS.md")
    if args.sections is not None:
        return add_sections(args.sections.split(","), args.into, out, sizes, args.quick)
    if args.into is not None:
        return add_workloads(args.workloads.split(","), args.targets.split(","), args.into, out, sizes, runs)
    started = dt.datetime.now(dt.UTC)
    load_start = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    t0 = time.monotonic()
    if not wsns_redis_available():
        print("note: sanic_wsns.broker.redis is missing: W2/W5 skip sanic-wsns", file=sys.stderr)
    parallel = args.quick if args.parallel is None else args.parallel
    raw = args.json or RESULTS / f"run-{started:%Y%m%dT%H%M%S}.json"
    raw.parent.mkdir(parents=True, exist_ok=True)
    commit = head_commit()

    def save(results: Results, runs_done: int, extra: dict[str, Any] | None = None,
             profile: str = "") -> dict[str, Any]:
        """The raw figures so far: a run stopped midway can still be rendered (``--render``)."""
        load_end = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        saved = {"sizes": asdict(sizes), "runs": runs_done, "results": results, "sections": extra or {},
                 "started": started.isoformat(), "load": [load_start, load_end],
                 "seconds": time.monotonic() - t0, "profile": profile, "commit": commit}
        raw.write_text(json.dumps(saved, indent=1))
        return saved

    results, extra = run_all(args.workloads.split(","), args.targets.split(","), sizes, runs, parallel,
                             quick=args.quick, on_run=save)
    profile = "" if args.quick or args.no_profile else _profile()
    saved = save(results, runs, extra, profile)
    seconds = saved["seconds"]
    write(out, saved)
    print(f"wrote {out} and its plots ({seconds:.0f}s); raw figures in {raw}", file=sys.stderr)
    return out


def add_sections(names: list[str], into: Path | None, out: Path, sizes: Sizes, quick: bool) -> Path:
    """Run only the sections ``names`` (on a redis-server of their own). With ``into`` (a
    run's raw figures), their figures join that run's, each stamped with its own start,
    load and commit so the report can say they came later, and the report is rewritten;
    without, they are printed."""
    chosen = [s for s in SECTIONS if s.name in names]
    unknown = set(names) - {s.name for s in chosen}
    if unknown:
        raise SystemExit(f"no such section: {', '.join(sorted(unknown))}")
    saved = json.loads(into.read_text()) if into is not None else None
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        redis = start_redis(stack, logs)
        for section in chosen:
            stamp = _stamp()
            figures = section.run(sizes, quick, redis)
            if saved is None:
                print("\n".join(section.render(figures)))
                continue
            saved["sections"][section.name] = figures
            saved.setdefault("added", {})[section.name] = stamp
            assert into is not None
            into.write_text(json.dumps(saved, indent=1))
    if saved is not None:
        write(out, saved)
        print(f"wrote {out} and its plots from {into}", file=sys.stderr)
    return out


def _stamp() -> dict[str, str]:
    """When, at which commit and under which load a part added to a run ran."""
    return {"started": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"), "commit": head_commit(),
            "load": " / ".join(f"{x:.2f}" for x in os.getloadavg())}


def add_workloads(workloads: list[str], targets: list[str], into: Path, out: Path, sizes: Sizes,
                  runs: int) -> Path:
    """Run ``workloads`` again (``runs`` times, no sections) and put their cells in place of
    the run's own in ``into``, stamped like an added section; then rewrite the report."""
    saved = json.loads(into.read_text())
    stamps = {workload: _stamp() for workload in workloads}
    results, _ = run_all(workloads, targets, sizes, runs, sections=[])
    saved["results"].update(results)
    saved.setdefault("added", {}).update(stamps)
    into.write_text(json.dumps(saved, indent=1))
    write(out, saved)
    print(f"wrote {out} and its plots from {into}", file=sys.stderr)
    return out


#: What ``_profile`` samples: (workload, stage, target, features), each a py-spy run of its own.
PROFILES = (
    ("W1", "windowed", "wsns", ()),
    ("W1", "windowed", "raw", ()),
    ("W4", "churn", "wsns", ()),
    ("W4", "churn", "raw", ()),
    # The cost of history, seen from the sender's instance A: where the extra time goes.
    ("W2", "windowed", "wsns", ()),
    ("W2", "windowed", "wsns", ("history",)),
)


def _profile() -> str:
    """py-spy summaries of the ``PROFILES`` (skipped without py-spy)."""
    sections = []
    for workload, stage, target, features in PROFILES:
        done = subprocess.run([sys.executable, "-m", "bench.profile", "--target", target,
                               "--workload", workload, "--features", ",".join(features), "--top", "12"],
                              cwd=ROOT, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            return f"(profile skipped: {done.stderr.strip().splitlines()[-1:]})"
        body = done.stdout.split("\n\n", 1)[-1].strip()
        switched = f", {' + '.join(features)} on" if features else ""
        where = ", instance A (the sender's)" if workload == "W2" else ""
        sections.append(f"### {workload} ({stage} stage), {TARGET_NAMES[target]}{switched}{where}\n\n"
                        f"```\n{body}\n```")
    return "\n\n".join(sections)


if __name__ == "__main__":
    main()
