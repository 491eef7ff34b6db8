"""monitor: a news-monitoring crawler for Kazakhstan's media."""

__version__ = "0.1.0"
