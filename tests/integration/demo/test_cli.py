"""``python -m demo_app``'s command line, as a person reads it."""

from __future__ import annotations

import pytest

from demo_app.__main__ import parse_args


def test_the_help_shows_plain_text_not_the_docstrings_markup(capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args(["--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert "``" not in shown
    assert "python -m demo_app: run one bubblemap instance (one process, or --workers N" in shown
    assert "BUBBLEMAP_METRICS_TOKEN" in shown
