"""``python -m bench.memprofile`` is ``python -m bench.memory`` (its older name, which
``bench.run``'s report still cites): an idle connection's memory, itemized."""

from bench.memory import main

if __name__ == "__main__":
    main()
