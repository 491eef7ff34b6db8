"""How monitor's values look in Datasette's HTML tables: dates, evidence, tags and links.

Only the HTML pages change; JSON, CSV and Atom keep the stored values. Every value taken from
the database is escaped (markupsafe's Markup.format escapes its arguments), so an article title
that contains HTML is shown as text.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from datasette import hookimpl
from markupsafe import Markup

from monitor import dates
from monitor.errors import MonitorError

DATABASE = "monitor"
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
# Columns holding an ISO 8601 date or time, in tables and in canned queries.
DATE_COLUMNS = frozenset(
    """published modified fetched lastmod matched started finished at next_run
    last_started last_finished latest_published latest_fetched latest_matched""".split()
)


def _display_zone():
    try:
        return dates.display_zone()
    except MonitorError:
        return dates.ALMATY  # `monitor serve` refuses a bad MONITOR_TIMEZONE before this


def human_date(value: Any) -> Markup | None:
    """An ISO 8601 date or time as '10 Jan 2022, 14:30 UTC+5', in a <time> element; else None.

    Times are shown in the display time zone (MONITOR_TIMEZONE, default Asia/Almaty), whatever
    offset the outlet gave; a time stored without an offset is UTC; a bare date stays a date."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if len(value.strip()) == 10:
        text = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
    else:
        moment = dates.shown(moment, _display_zone())
        day = f"{moment.day} {MONTHS[moment.month - 1]} {moment.year}"
        text = f"{day}, {moment:%H:%M} {_zone(moment.utcoffset())}"
    return Markup('<time datetime="{}" title="{}">{}</time>').format(value, value, text)


def _zone(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def parse_evidence(value: Any) -> list[dict[str, Any]]:
    """The evidence JSON of a match as a list of dicts (empty if it cannot be read)."""
    try:
        items = json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]


def evidence_html(value: Any, limit: int = 3) -> Markup | None:
    """Evidence as a short list: the strongest rules first, each term and rule once, with the
    fields it fired in and one snippet; the article page shows all of it."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for item in parse_evidence(value):
        key = (str(item.get("term", "")), str(item.get("rule", "")))
        entry = grouped.setdefault(
            key, {"fields": [], "snippet": item.get("snippet", ""), "weight": 0.0}
        )
        if item.get("field") not in entry["fields"]:
            entry["fields"].append(item.get("field"))
        weight = item.get("weight")
        if isinstance(weight, int | float):
            entry["weight"] = max(entry["weight"], weight)
    if not grouped:
        return None
    strongest = sorted(grouped.items(), key=lambda kv: -kv[1]["weight"])
    lines = [
        Markup(
            '<li><span class="term">{}</span> <span class="rule">({})</span>'
            ' <span class="field">in {}:</span> {}</li>'
        ).format(term, rule, ", ".join(map(str, entry["fields"])), entry["snippet"])
        for (term, rule), entry in strongest[:limit]
    ]
    if len(strongest) > limit:
        lines.append(Markup('<li class="more">and {} more</li>').format(len(strongest) - limit))
    return Markup('<ul class="evidence">{}</ul>').format(Markup("").join(lines))


def short_url(value: Any) -> Markup | None:
    """A link to a URL whose text is the URL without its scheme, cut to 32 characters."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return None
    text = value.split("://", 1)[1]
    text = text if len(text) <= 32 else text[:31] + "…"
    return Markup('<a href="{}" title="{}">{}</a>').format(value, value, text)


def tags_text(value: Any) -> str | None:
    try:
        tags = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        return None
    if not isinstance(tags, list):
        return None
    return ", ".join(str(tag) for tag in tags)


def article_path(datasette, article_id: Any) -> str:
    return datasette.urls.row(DATABASE, "articles", str(article_id))


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    if database != DATABASE:
        return None
    if column in DATE_COLUMNS:
        return human_date(value)
    if column == "evidence":
        return evidence_html(value)
    if column == "tags":
        return tags_text(value)
    if table == "articles" and column == "title" and "id" in row.keys():
        return Markup('<a href="{}">{}</a>').format(
            article_path(datasette, row["id"]), value or "—"
        )
    if table is not None:
        return None
    # Canned queries: link titles and ids to the article page, topics to their latest matches.
    keys = row.keys()
    if column in ("title", "article_id") and "article_id" in keys and row["article_id"]:
        return Markup('<a href="{}">{}</a>').format(
            article_path(datasette, row["article_id"]), value if value is not None else "—"
        )
    if column == "url":
        return short_url(value)
    if column == "topic" and isinstance(value, str) and value:
        href = datasette.urls.path("/topics/" + quote(value, safe=""))
        return Markup('<a href="{}">{}</a>').format(href, value)
    return None


@hookimpl
def extra_template_vars():
    return {"human_date": human_date, "parse_evidence": parse_evidence}
