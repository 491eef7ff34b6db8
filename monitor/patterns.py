"""Regular expressions from configuration files: compiled once, refused when they can hang.

Python's `re` backtracks and has no time limit: a pattern such as `^(a+)+$` takes minutes on a
line of thirty letters, and it would run in the crawl's event loop (article URL patterns) or in
an extraction worker (chrome line patterns). The outlet registry refuses such patterns when it
is loaded, with the same check as the topic file.
"""

from __future__ import annotations

import re

# A repeated group that itself repeats or alternates ((a+)+, (a|aa)*) can backtrack for ages.
NESTED_REPEAT = re.compile(r"\([^()]*[*+}|][^()]*\)[*+{]")


class PatternError(ValueError):
    """A regular expression that cannot be used; the message says why, in a few words."""


def compile_pattern(pattern: object, flags: int = 0) -> re.Pattern[str]:
    """`pattern` compiled; PatternError if it is not a string, invalid, or can backtrack for
    ages (a repeated group that repeats or alternates inside)."""
    if not isinstance(pattern, str):
        raise PatternError(f"expected a regex (a string), not {pattern!r}")
    if NESTED_REPEAT.search(pattern):
        raise PatternError(f"regex {pattern!r} repeats a repeated group (it can run for minutes)")
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise PatternError(f"invalid regex {pattern!r}: {exc}") from None
