"""Orda.kz (https://orda.kz): its feed, numbered news sitemaps and the /last-news/ listing.

Everything about the site is in its registry entry (seeds/outlets.yml, slug `orda`); the
generic spider's discovery fits it as it is.

    scrapy crawl orda [-a base_url=http://127.0.0.1:8000] [-a since=2022-01-01]
"""

from monitor.spiders.news import NewsSpider


class OrdaSpider(NewsSpider):
    name = "orda"
    outlet_slug = "orda"
