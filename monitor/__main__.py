"""Allow `python -m monitor`."""

from monitor.cli import cli

cli()
