"""Reading a topic file: YAML parsing with one-line errors, and the topic-level keys.

load_topics() is the one way to load topics; a file that does not exist is an error.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from monitor.topics.compiler import Context, compile_concepts, compile_rule, term_index
from monitor.topics.model import (
    DEFAULT_FIELD_WEIGHTS,
    FIELDS,
    MAX_TIMES,
    SLUG,
    Passing,
    Topic,
    TopicError,
)

# `notify` (destination names) is read by monitor/notify.py, not here.
_TOPIC_KEYS = {
    "slug", "name", "description", "seeds", "threshold", "sentence_cap", "fields", "concepts",
    "rules", "period", "notify", "passing",
}  # fmt: skip
_REQUIRED_KEYS = ("slug", "name", "description", "threshold", "concepts", "rules")
_PASSING_KEYS = {"anchors", "aspects", "reach", "min_aspects"}


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser if built
    """Safe YAML loader that rejects duplicate keys instead of keeping the last one."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_topics(path: str | Path) -> list[Topic]:
    """Load, validate and compile the topics in a YAML file; raise TopicError on any problem.

    A file that does not exist is a problem too: a configured topic file must be there.
    """
    path = Path(path)
    if not path.is_file():
        problem = "is a directory" if path.is_dir() else "does not exist"
        raise TopicError(f"topic file {path} {problem}")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TopicError(f"{path}: cannot read topic file: {exc}") from exc
    data = _parse_yaml(path, source)
    if not isinstance(data, dict) or set(data) != {"topics"}:
        raise TopicError(f"{path}: expected one top-level key 'topics' holding a list of topics")
    if not isinstance(data["topics"], list) or not data["topics"]:
        raise TopicError(f"{path}: key 'topics' must be a non-empty list")
    topics: list[Topic] = []
    for index, raw in enumerate(data["topics"], start=1):
        topic = _compile_topic(Context(path, raw, index), raw)
        if any(t.slug == topic.slug for t in topics):
            raise TopicError(f"{path}: topic '{topic.slug}': key 'slug': duplicate slug")
        topics.append(topic)
    return topics


def _parse_yaml(path: Path, source: str) -> Any:
    try:
        return yaml.load(source, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        if mark is None:
            raise TopicError(f"{path}: invalid YAML: {problem}") from exc
        # An unclosed bracket or quote is noticed later; its context mark says where it began.
        start = getattr(exc, "context_mark", None) or mark
        where = f"line {mark.line + 1}, column {mark.column + 1}"
        if start.line != mark.line:
            where += f" (in what starts at line {start.line + 1})"
        topic, key = _locate(source, start.line)
        raise TopicError(
            f"{path}: topic '{topic}': key '{key}': invalid YAML at {where}: {problem}"
        ) from exc


def _locate(source: str, line: int) -> tuple[str, str]:
    """Best guess of the topic slug and key around a line of a file that does not parse."""
    slug, key = "?", "?"
    for text in reversed(source.splitlines()[: line + 1]):
        found = re.match(r"^\s*(?:-\s+)?([\w.-]+)\s*:", text)
        if found and key == "?":
            key = found.group(1)
        slug_match = re.match(r"^\s*(?:-\s+)?slug\s*:\s*['\"]?([\w-]+)", text)
        if slug_match:
            slug = slug_match.group(1)
            break
    return slug, key


def _compile_topic(ctx: Context, raw: Any) -> Topic:
    if not isinstance(raw, dict):
        raise TopicError(f"{ctx.path}: topic '{ctx.slug}': expected a mapping of keys")
    for key in raw:
        if key not in _TOPIC_KEYS:
            raise TopicError(f"{ctx.path}: topic '{ctx.slug}': unknown key '{key}'")
    for key in _REQUIRED_KEYS:
        if raw.get(key) in (None, "", [], {}):
            raise ctx.error(key, "missing or empty (required)")
    slug = _text(ctx, raw, "slug")
    if not SLUG.match(slug):
        raise ctx.error("slug", "use lower-case letters, digits, '-' and '_'")
    concepts = compile_concepts(ctx, raw["concepts"])
    if not isinstance(raw["rules"], list):
        raise ctx.error("rules", "must be a list of rules")
    period = _period(ctx, raw.get("period"))
    rules = tuple(
        compile_rule(ctx, f"rules[{i}]", rule, concepts, dated=period is not None)
        for i, rule in enumerate(raw["rules"], 1)
    )
    if not any(rule.weight > 0 for rule in rules if not rule.discard):
        raise ctx.error("rules", "no rule has a positive weight, so nothing can match")
    return Topic(
        slug=slug,
        name=_text(ctx, raw, "name"),
        description=" ".join(_text(ctx, raw, "description").split()),
        seeds=_seeds(ctx, raw.get("seeds", [])),
        threshold=_positive_number(ctx, "threshold", raw["threshold"]),
        sentence_cap=_optional_number(ctx, "sentence_cap", raw.get("sentence_cap")),
        field_weights=_field_weights(ctx, raw.get("fields", {})),
        concepts=concepts,
        rules=rules,
        period=period,
        passing=_passing(ctx, raw.get("passing"), concepts),
        **term_index(concepts),
    )


def _text(ctx: Context, raw: dict[str, Any], key: str) -> str:
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise ctx.error(key, "must be non-empty text")
    return value.strip()


def _seeds(ctx: Context, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ctx.error("seeds", "must be a list of file names")
    return tuple(v.strip() for v in value)


def _positive_number(ctx: Context, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ctx.error(key, f"must be a positive number, got {value!r}")
    return float(value)


def _optional_number(ctx: Context, key: str, value: Any) -> float | None:
    return None if value is None else _positive_number(ctx, key, value)


def _field_weights(ctx: Context, value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ctx.error("fields", "must map title/lead/text to weights")
    weights = dict(DEFAULT_FIELD_WEIGHTS)
    for name, weight in value.items():
        if name not in FIELDS:
            raise ctx.error(f"fields.{name}", f"unknown field (use {', '.join(FIELDS)})")
        weights[name] = _positive_number(ctx, f"fields.{name}", weight)
    return weights


def _period(ctx: Context, value: Any) -> tuple[date, date] | None:
    """The topic's `period: {from: YYYY-MM-DD, to: YYYY-MM-DD}` (both days included)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"from", "to"}:
        raise ctx.error("period", "expected {from: YYYY-MM-DD, to: YYYY-MM-DD}")
    days = []
    for key in ("from", "to"):
        day = value[key]
        if isinstance(day, datetime):
            day = day.date()
        elif isinstance(day, str):
            try:
                day = date.fromisoformat(day.strip())
            except ValueError:
                day = None
        if not isinstance(day, date):
            raise ctx.error(f"period.{key}", f"expected a date YYYY-MM-DD, got {value[key]!r}")
        days.append(day)
    if days[0] > days[1]:
        raise ctx.error("period", "'from' is after 'to'")
    return days[0], days[1]


def _passing(ctx: Context, value: Any, concepts: dict[str, Any]) -> Passing | None:
    """The topic's `passing: {anchors: [...], aspects: [...], reach: 1, min_aspects: 2}`."""
    if value is None:
        return None
    if not isinstance(value, dict) or not {"anchors", "aspects"} <= set(value):
        raise ctx.error("passing", "expected {anchors: [concept, ...], aspects: [concept, ...]}")
    for key in value:
        if key not in _PASSING_KEYS:
            raise ctx.error(
                f"passing.{key}", f"unknown key (use {', '.join(sorted(_PASSING_KEYS))})"
            )
    names: dict[str, frozenset[str]] = {}
    for key in ("anchors", "aspects"):
        items = value[key]
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            raise ctx.error(f"passing.{key}", "expected a list of concept names")
        for item in items:
            if item not in concepts:
                raise ctx.error(f"passing.{key}", f"unknown concept {item!r}")
        names[key] = frozenset(items)
    numbers = {}
    for key, default, lowest in (("reach", 1, 0), ("min_aspects", 2, 1)):
        number = value.get(key, default)
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not lowest <= number <= MAX_TIMES
        ):
            raise ctx.error(
                f"passing.{key}", f"must be a whole number from {lowest} to {MAX_TIMES}"
            )
        numbers[key] = number
    return Passing(names["anchors"], names["aspects"], **numbers)
