"""The generic extraction path (no outlet profile) on small pages of our own: the causes of lost
text or kept chrome found on real pages, each fixed once for all outlets."""

from __future__ import annotations

from monitor import extraction

PARAGRAPHS = [
    "Акимат Караганды объявил о ремонте двенадцати школ области до начала нового учебного года.",
    "Подрядчики заменят кровлю, окна и системы отопления, а в трех школах обновят спортзалы.",
    "В управлении образования пообещали, что занятия во время работ прерываться не будут.",
]
HEADLINES = [
    "В Темиртау открыли новый детский сад на двести мест",
    "Жители Сарани просят восстановить автобусный маршрут",
    "Весенний паводок: в области укрепляют дамбы на трех реках",
    "Шахтеры Караганды получили новые спасательные комплекты",
    "В Балхаше прошел фестиваль народных ремесел",
]


def page(body: str, *, head: str = "", prolog: str = "<!DOCTYPE html>") -> bytes:
    return (
        f'{prolog}<html lang="ru"><head><meta charset="utf-8"><title>Ремонт школ</title>'
        f"{head}</head><body>{body}</body></html>"
    ).encode()


def article(extra: str = "", title: str = "Ремонт школ") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    return f"<article><h1>{title}</h1>{paragraphs}{extra}</article>"


def latest() -> str:
    items = "".join(
        f'<li>12:{10 + n} <a href="/news/{n}/">{h}</a> [{300 - n}]</li>'
        for n, h in enumerate(HEADLINES)
    )
    return f'<div class="latest"><ul>{items}</ul></div>'


def text_of(body: bytes) -> list[str]:
    return extraction.extract(body, "https://outlet.test/news/1/")["text"].split("\n")


def test_a_comment_inside_a_paragraph_does_not_cut_it():
    broken = PARAGRAPHS[0].replace("двенадцати ", "двенадцати <!-- -->")
    body = page(article().replace(PARAGRAPHS[0], broken))
    assert text_of(body) == PARAGRAPHS


def test_an_xhtml_page_with_an_xml_declaration_is_not_refused():
    body = page(article(), prolog='<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>')
    assert text_of(body) == PARAGRAPHS


def test_the_headline_is_not_repeated_at_the_top_of_the_text():
    head = '<meta property="og:title" content="Ремонт школ">'
    body = page(article(title="Ремонт школ"), head=head)
    fields = extraction.extract(body, "https://outlet.test/news/1/")
    assert fields["title"] == "Ремонт школ"
    assert fields["text"].split("\n") == PARAGRAPHS


def test_a_list_of_the_pages_links_after_the_article_is_not_article_text():
    body = page(article(extra=latest()))
    lines = text_of(body)
    assert lines[: len(PARAGRAPHS)] == PARAGRAPHS
    assert not any(h in line for h in HEADLINES for line in lines)


def test_a_list_in_the_article_that_is_not_links_is_kept():
    steps = ["Первый этап: кровля", "Второй этап: окна", "Третий этап: отопление", "Итог: сдача"]
    items = "".join(f"<li>{s}</li>" for s in steps)
    lines = text_of(page(article(extra=f"<ul>{items}</ul>")))
    assert [ln.lstrip("- ") for ln in lines if "этап" in ln or "Итог" in ln] == steps


COMMENTS = [
    "Наконец-то взялись за школы, у нас в поселке крыша течет уже третий год подряд.",
    "Хорошо бы еще проверить, как потратят деньги, в прошлый раз ремонт развалился за зиму.",
]


def reader_comments(item: str) -> str:
    """Reader comments as a page marks them up: author, date and text of each."""
    return "".join(item.format(n=n, text=text) for n, text in enumerate(COMMENTS))


def test_reader_comments_marked_by_class_are_not_article_text():
    item = (
        '<div class="b-comments-item"><span class="b-comments-author">Гость {n}</span> '
        '<span class="b-comments-date">12.05.2024 14:0{n}</span><p>{text}</p></div>'
    )
    extra = f'<div class="lastComments">{reader_comments(item)}</div>'
    assert text_of(page(article(extra=extra))) == PARAGRAPHS


def test_reader_comments_marked_by_microdata_are_not_article_text():
    item = (
        '<div itemprop="comment" itemscope itemtype="https://schema.org/Comment">'
        '<b itemprop="author">Гость {n}</b><p itemprop="text">{text}</p></div>'
    )
    assert text_of(page(article(extra=reader_comments(item)))) == PARAGRAPHS


def test_what_follows_an_empty_comments_anchor_is_not_article_text():
    item = '<table class="row"><tr><td><b>Гость {n}</b> 12.05.2024</td></tr></table><p>{text}</p>'
    extra = f'<a name="comments"></a>{reader_comments(item)}'
    assert text_of(page(article(extra=extra))) == PARAGRAPHS


def test_an_article_whose_container_is_named_for_comments_is_kept():
    paragraphs = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    body = f'<div class="post commentable"><h1>Ремонт школ</h1>{paragraphs}</div>'
    assert text_of(page(body)) == PARAGRAPHS


def test_teasers_of_other_stories_cut_short_are_not_article_text():
    teasers = "".join(
        f'<div class="teaser"><h3><a href="/news/{n}/">{h}</a></h3>'
        f"<p>{h}: подробности, мнения жителей и комментарии чиновников читайте...</p></div>"
        for n, h in enumerate(HEADLINES[:3])
    )
    lines = text_of(page(article(extra=teasers)))
    assert lines == PARAGRAPHS


def test_a_paragraph_ending_in_an_ellipsis_is_kept():
    trailing = "Чем закончится спор подрядчиков с акиматом, пока не знает никто…"
    lines = text_of(page(article(extra=f"<p>{trailing}</p>")))
    assert lines == [*PARAGRAPHS, trailing]


def test_a_layout_tables_one_cell_rows_are_not_article_text():
    menu = "".join(f'<tr><td><a href="/{n}/">{w}</a></td></tr>' for n, w in enumerate(MENU))
    cells = "".join(f"<tr><td>{p}</td></tr>" for p in PARAGRAPHS)
    body = f"<table><tr><td><h1>Ремонт школ</h1></td></tr>{cells}{menu}</table>"
    lines = text_of(page(body))
    assert [ln.strip(" |") for ln in lines] == PARAGRAPHS


def test_a_data_tables_rows_of_several_short_cells_are_kept():
    rows = "".join(f"<tr><td>{city}</td><td>{n}</td></tr>" for city, n in SCHOOLS)
    lines = text_of(page(article(extra=f"<table>{rows}</table>")))
    assert [[c.strip() for c in ln.strip(" |").split("|")] for ln in lines[3:]] == [
        [city, str(n)] for city, n in SCHOOLS
    ]


MENU = ["Главная", "Новости региона", "Экономика", "Контакты редакции"]
SCHOOLS = [("Караганда", 5), ("Темиртау", 4), ("Сарань", 3)]
