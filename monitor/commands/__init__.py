"""Scrapy commands of the monitor project (COMMANDS_MODULE)."""
