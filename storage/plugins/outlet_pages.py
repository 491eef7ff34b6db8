"""A page of the outlets and their health for reading, not SQL: /outlets/.

Each outlet's health (as `monitor health` last judged it), its last crawl with its counts, the
first error of a failed crawl and a link to its failed pages, its last 7 days, its newest
article and its next run: the rows of the `crawl_health` query (storage/metadata.yml), shown
with words instead of column names, and readable on a phone.
"""

from __future__ import annotations

from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Response

DATABASE = "monitor"
QUERY = "crawl_health"


async def outlets_page(datasette, request) -> Response:
    db = datasette.get_database(DATABASE)
    query = await datasette.get_canned_query(DATABASE, QUERY, request.actor)
    rows: list[dict[str, Any]] = [dict(r) for r in (await db.execute(query["sql"])).rows]
    names = {}
    try:
        from monitor import outlets as registry
        from monitor import settings

        names = {slug: o.name for slug, o in registry.load(settings.MONITOR_OUTLETS).items()}
    except Exception:  # a broken registry must not break the page; the CLI reports it
        pass
    for row in rows:
        row["name"] = names.get(row["outlet"], "")
    html = await datasette.render_template(
        "outlets.html",
        {"rows": rows, "query_url": datasette.urls.path(f"/{DATABASE}/{QUERY}")},
        request=request,
    )
    return Response.html(html)


@hookimpl
def register_routes():
    return [(r"^/outlets/?$", outlets_page)]
