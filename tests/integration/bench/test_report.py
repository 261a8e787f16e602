"""The report renders whatever figures a run produced, a quick run's coarse ones included."""

from bench.report import misses


def test_a_w4_miss_note_survives_a_floor_of_zero_cpu() -> None:
    # A --quick run's churn can cost raw Sanic less than one clock tick: 0 µs per cycle.
    cell = {"cycles_per_s": 10.0, "cpu_us_per_cycle": 0.0}
    results = {"W4": {"wsns": [dict(cell, cpu_us_per_cycle=500.0)], "raw": [cell]}}
    assert not any(note.startswith("- W4") for note in misses(results))


def _moonshot(ms: float, loadgens: int) -> dict:
    return {"curve": "moonshot", "label": f"100k, {loadgens}", "connections": 100_000,
            "connections_held": 100_000, "instances": 6, "loadgens": loadgens, "open_seconds": 60.0,
            "opens_per_s": 1666.0,
            "last_delivery_ms": ms, "deliveries": 100_000, "lost": 0, "cpu_us_per_delivery": 7.0,
            "servers_rss_mib": 1400.0, "rss_kib_per_connection": 14.0, "loadgens_rss_mib": 900.0,
            "idle_seconds": 0.0}


def test_the_moonshot_meets_goal_4_only_when_fast_and_not_bound_by_its_generators() -> None:
    from bench.scale_report import moonshot_section

    def verdict(first: float, more: float) -> str:
        lines = moonshot_section({"quick": False, "steps": [_moonshot(first, 6), _moonshot(more, 7)]})
        return next(line for line in lines if line.startswith("Goal:"))

    assert verdict(900.0, 880.0).endswith("**met**.")
    assert verdict(1600.0, 1590.0).endswith("**not met**.")  # too slow
    assert verdict(900.0, 600.0).endswith("**not met**.")  # one more generator made it faster
