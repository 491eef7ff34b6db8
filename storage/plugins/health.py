"""Outlet health in Datasette: the SQL function crawl_error() and links to a crawl's failures.

crawl_error(url, status, reason) says a crawl's failure as a person reads it (monitor/health.py:
"no network: ... cannot be reached", "/feed/ answered HTTP 404"); the crawl_health query uses it
for the first error of a failed crawl. In canned queries, a `last_crawl` column links to that
crawl's failures and a `health` column is shown as a coloured state.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from markupsafe import Markup

from monitor.health import describe_error

DATABASE = "monitor"


@hookimpl
def prepare_connection(conn):
    conn.create_function(
        "crawl_error",
        3,
        lambda url, status, reason: describe_error(url, status, reason or "") if reason else None,
        deterministic=True,
    )


@hookimpl
def render_cell(row, value, column, table, database, datasette) -> Any:
    if database != DATABASE or table is not None:
        return None
    if column == "last_crawl" and isinstance(value, int):
        href = datasette.urls.table(DATABASE, "failures") + f"?crawl_id={value}"
        return Markup('<a href="{}">failures of crawl {}</a>').format(href, value)
    if column == "health" and isinstance(value, str):
        css = value.replace(" ", "-")
        return Markup('<span class="status status-{}">{}</span>').format(css, value)
    return None
