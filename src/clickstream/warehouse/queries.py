"""Named SQL queries, read from `sql/<module>.sql`.

A file holds several queries, each introduced by a line `-- name: <query_name>`; the text up
to the next such line is the query. Keeping SQL in files lets reviewers read it as SQL and
lets a test check that every query the code asks for exists.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_NAME_LINE = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    """Split the text of a `.sql` file into {name: query}."""
    matches = list(_NAME_LINE.finditer(text))
    queries: dict[str, str] = {}
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        name = match.group(1)
        body = text[match.end() : following.start() if following else len(text)].strip()
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        if not body:
            raise ValueError(f"query {name!r} is empty")
        queries[name] = body
    return queries


@cache
def queries(module: str) -> dict[str, str]:
    """All queries of `sql/<module>.sql`."""
    text = resources.files(__package__).joinpath("sql", f"{module}.sql").read_text(encoding="utf-8")
    return parse(text)


def query(module: str, name: str) -> str:
    try:
        return queries(module)[name]
    except KeyError:
        raise KeyError(f"no query {name!r} in sql/{module}.sql") from None
