"""Spiders: the generic `news` spider and the outlets that need their own."""
