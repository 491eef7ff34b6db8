"""`python -m monitor.commands NAME... [-a K=V] [-s K=V]`: the crawl command, started directly.

This is how monitor starts its own crawls (`monitor crawl`, the scheduler): `scrapy crawl`
without loading Scrapy's other commands. It is a `__main__` module so that the extraction
workers, which multiprocessing spawns, do not import it (and Scrapy with it) again.
"""

from monitor.commands.crawl import main

if __name__ == "__main__":  # Scrapy imports every module here when it looks for commands
    main()
