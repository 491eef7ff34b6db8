"""Test helpers around the replica sites (which live in monitor/replica)."""
