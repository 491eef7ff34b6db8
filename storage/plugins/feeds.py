"""Make datasette-atom's .atom feeds safe for any result: none, or times without a timezone.

datasette-atom 0.9 answers HTTP 500 when a query returns no rows (it takes the max() of the
entries' times) and when an ``atom_updated`` value has no timezone. A feed of a topic with no
matches yet, or of an unknown topic, is an ordinary empty feed, so this plugin wraps the atom
renderer: it renders an empty result as a valid feed without entries, and reads a time without an
offset as UTC (a bare date as midnight UTC). Everything else is left to datasette-atom.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from datasette import __version__, hookimpl
from datasette.utils import call_with_supported_arguments
from datasette.utils.asgi import Response


def aware(value: Any) -> Any:
    """An ISO 8601 time with a timezone: one without an offset is taken as UTC."""
    if not isinstance(value, str):
        return value
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def feed_title(datasette, request, database: str, query_name: str | None, sql: str) -> str:
    if query_name:
        query = (datasette.metadata(database=database) or {}).get("queries", {}).get(query_name)
        if isinstance(query, dict) and query.get("title"):
            return query["title"]
    return request.args.get("_feed_title") or sql


def empty_feed(datasette, request, database: str, query_name: str | None, sql: str) -> Response:
    from feedgen.feed import FeedGenerator

    feed = FeedGenerator()
    feed.generator(generator="Datasette", version=__version__, uri="https://datasette.io/")
    feed.id(request.url)
    feed.link(href=request.url, rel="self")
    feed.title(feed_title(datasette, request, database, query_name, sql))
    feed.updated(datetime.now(UTC).replace(microsecond=0))
    return Response(
        feed.atom_str(pretty=True), content_type="application/xml; charset=utf-8", status=200
    )


def robust(render):
    """Wrap datasette-atom's render function (Datasette passes arguments by name)."""

    def render_atom(
        datasette, request, sql, columns, rows, database, table, query_name, view_name, data
    ):
        if "atom_updated" in columns:
            if not rows:
                return empty_feed(datasette, request, database, query_name, sql)
            rows = [{**dict(row), "atom_updated": aware(row["atom_updated"])} for row in rows]
        return call_with_supported_arguments(
            render,
            datasette=datasette,
            request=request,
            sql=sql,
            columns=columns,
            rows=rows,
            database=database,
            table=table,
            query_name=query_name,
            view_name=view_name,
            data=data,
        )

    return render_atom


@hookimpl(wrapper=True)
def register_output_renderer(datasette):
    results = yield
    for result in results:
        for renderer in result if isinstance(result, list) else [result]:
            if renderer.get("extension") == "atom" and callable(renderer.get("render")):
                renderer["render"] = robust(renderer["render"])
    return results
