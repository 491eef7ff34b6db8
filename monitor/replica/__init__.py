"""Replica sites of the outlets, served on loopback: for the crawl tests and `monitor demo`.

server.py is the HTTP server; orda.py, sputnik.py (both editions) and generic.py (a
Tengrinews-like outlet) are the sites, each with the ground truth the tests assert against. Their
texts are invented for the purpose. They ship with the package so that `monitor demo` works in
an installation without the tests.
"""
