"""Loopback HTTP replicas of real news sites, for end-to-end crawl tests.

`server.ReplicaServer` serves any `server.Site` on 127.0.0.1; `orda.OrdaSite` is the Orda.kz
replica with its ground truth.
"""
