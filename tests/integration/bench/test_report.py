"""The report renders whatever figures a run produced, a quick run's coarse ones included."""

from bench.report import misses


def test_a_w4_miss_note_survives_a_floor_of_zero_cpu() -> None:
    # A --quick run's churn can cost raw Sanic less than one clock tick: 0 µs per cycle.
    cell = {"cycles_per_s": 10.0, "cpu_us_per_cycle": 0.0}
    results = {"W4": {"wsns": [dict(cell, cpu_us_per_cycle=500.0)], "raw": [cell]}}
    assert not any(note.startswith("- W4") for note in misses(results))
