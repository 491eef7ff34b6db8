"""The one exception type for user errors: bad arguments, bad config, unusable database."""


class MonitorError(Exception):
    """A user error, reported as one line without a traceback."""
