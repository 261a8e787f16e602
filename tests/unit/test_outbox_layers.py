"""The outbox is Sanic-free but for its listeners glue (a worker records frames and an
emitter could relay them without any Sanic app)."""

from tests.unit.test_layers import PACKAGE, imported


def test_only_the_listeners_glue_of_the_outbox_imports_sanic():
    importers = sorted(path.name for path in (PACKAGE / "outbox").glob("*.py")
                       if any(name == "sanic" or name.startswith("sanic.") for name in imported(path)))
    assert importers == ["listeners.py"]
