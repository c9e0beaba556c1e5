"""How a user mistake leaves `tml-lr`: one line per problem on stderr, exit status 2."""

from __future__ import annotations

__all__ = ["EXIT_USAGE", "PROG", "UserError"]

PROG = "tml-lr"
EXIT_USAGE = 2


class UserError(Exception):
    """A problem with the input or the options: reported as lines, exit status 2."""

    def __init__(self, *lines: str, detail: str | None = None) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
        self.detail = detail  # printed as is after the error lines
