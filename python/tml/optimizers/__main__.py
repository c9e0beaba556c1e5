"""`python -m tml.optimizers`: the `tml-lr` command (see `tml.optimizers.cli`)."""

from tml.optimizers.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
