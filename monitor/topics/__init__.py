"""Topics people watch, loaded from seeds/topics.yml, and the matcher that explains its decisions.

A topic names *concepts* (groups of Russian and Kazakh terms, stemmed at load time with
``monitor.text.stem``) and *rules* that combine them: a term of a concept occurs, two concepts
occur within N words, all of some concepts occur, or at least K distinct concepts occur. Each
firing of a rule adds its weight times the weight of the field it fired in (title counts more);
an article matches a topic when the sum reaches the topic's threshold. Every firing leaves
evidence: the rule, the terms, the field and a snippet of the original text.

Matching tokenises and stems each field once (stems are cached), looks each token up in a
dictionary and then works on token positions, so its cost is linear in the article length.
The file format is documented at the top of seeds/topics.yml.

The package has one module per step: monitor.topics.loader reads and checks the YAML,
monitor.topics.compiler turns concepts and rules into their compiled form
(monitor.topics.model), and monitor.topics.matcher scores articles with evidence.
"""

from monitor.topics.loader import load_topics
from monitor.topics.matcher import Hit, Match, match_article, publication_day, score_article
from monitor.topics.model import FIELDS, Part, Rule, Term, Topic, TopicError

__all__ = [
    "FIELDS", "Hit", "Match", "Part", "Rule", "Term", "Topic", "TopicError", "load_topics",
    "match_article", "publication_day", "score_article",
]  # fmt: skip
