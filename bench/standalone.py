"""What every bench section shares when it runs on its own (``python -m bench.<section>``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.workloads import FULL, QUICK, Sizes


def run_alone(doc: str | None, run: Callable[[Sizes, bool, int | None], dict[str, Any]],
              render: Callable[[dict[str, Any]], list[str]], argv: list[str] | None = None) -> None:
    """``--quick`` (the smoke test's sizes), ``--runs`` and ``--json``; the section's table
    printed, as ``bench.run`` would render it."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: the smoke test's run")
    parser.add_argument("--runs", type=int, default=None, help="runs (default 3, quick 1)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = parser.parse_args(argv)
    figures = run(QUICK if args.quick else FULL, args.quick, args.runs)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    print("\n".join(render(figures)))


def no_plot(figures: dict[str, Any], folder: Path) -> list[Path]:
    """No plot: the table says it all."""
    return []


def interleaved(section: str, variants: tuple[str, ...], count: int,
                one_run: Callable[[str], dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``count`` runs, each of every variant in turn (so outside load smears over all of
    them); each run's figures logged to stderr as they come."""
    results: dict[str, list[dict[str, Any]]] = {variant: [] for variant in variants}
    for run in range(count):
        for variant in variants:
            results[variant].append(one_run(variant))
            print(f"{section} run {run + 1}/{count} {variant}: {json.dumps(results[variant][-1])}",
                  file=sys.stderr, flush=True)
    return results
