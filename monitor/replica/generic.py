# ruff: noqa: E501  (prose: one paragraph per line)
"""A loopback replica of a modest generic outlet (Tengrinews-like), crawled by the `news` spider.

What a registry entry alone must be enough for (seeds/outlets.yml, slug `tengrinews`):

- /robots.txt with `Sitemap: {origin}/sitemap_ru.xml`;
- /news.rss: RSS 2.0, the 10 newest articles (title, link, guid, pubDate with +0600,
  description, category, enclosure);
- /sitemap_ru.xml: a sitemap index of monthly children /sitemap-news-YYYY-MM.xml, each with
  the `lastmod` of its newest change; the children are urlsets with loc, lastmod and a Google
  News block;
- /<section>/<slug>-<id>/: plain HTML article pages (`<article>` with h1, byline, date, lead and
  <p> paragraphs, a figure, a "Читайте также:" link paragraph and a "Подписывайтесь" line),
  og/meta tags, JSON-LD NewsArticle (whose dateModified repeats datePublished when the article
  was never edited, as many CMSs write it), inside a menu, a currency widget, an <aside> of other
  headlines and a footer.

Texts, bylines and figures are invented for these tests. Ground truth as in the Sputnik and Orda
replicas: `site.articles` (ReplicaArticle),
`site.chrome_phrases`, `site.article_path_regex`, `site.edit_article()`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime

from monitor.replica.server import Reply, Site
from monitor.replica.sputnik import KZ_TIME, ReplicaArticle, local, parse_iso, translit

MONTHS = "января февраля марта апреля мая июня июля августа сентября октября ноября декабря".split()
SITEMAP_MONTHS = [(2022, 2), (2022, 1), (2021, 12)]
FEED_ITEMS = 10
NAME = "Tengrinews.kz"


@dataclass(frozen=True)
class Story:
    when: str
    section: str
    id: int
    title: str
    lead: str
    body: list[str]
    tags: list[str]
    author: str
    lang: str = "ru"
    topic: str | None = None
    modified: str | None = None
    note: str = ""


STORIES = [
    Story(
        when="2021-12-10 11:20",
        section="kazakhstan_news",
        id=456112,
        title="В Алматы начали строить развязку на Восточной объездной дороге",
        lead="Новая транспортная развязка должна разгрузить выезды из микрорайонов на севере города, работы планируют завершить к осени.",
        body=[
            "Строительство многоуровневой развязки на пересечении Восточной объездной дороги с одной из городских магистралей началось на этой неделе. Подрядчик уже огородил участок и переносит инженерные сети.",
            "В управлении городской мобильности объяснили, что сейчас в часы пик на этом перекрестке образуются пробки длиной в несколько километров. После открытия развязки машины смогут проезжать его без светофоров.",
            "На время работ движение по объездной сохранится, но полосы будут сужены. Водителям общественного транспорта согласовали временные схемы объезда, а остановки перенесут на соседние улицы.",
            "Работы планируют завершить к осени следующего года, после чего откроют и новые остановки. Жители соседних домов просят акимат обустроить шумозащитные экраны и тротуары вдоль новой дороги.",
        ],
        tags=["Алматы", "дороги", "строительство"],
        author="Данияр Абенов",
    ),
    Story(
        when="2021-12-24 17:45",
        section="kazakhstan_news",
        id=457380,
        title="Елочные базары открылись в столице",
        lead="Живые ели в этом году подорожали, а искусственные продавцы предлагают по прошлогодним ценам.",
        body=[
            "В Нур-Султане заработали елочные базары: торговые точки открылись у крупных рынков и торговых центров. Продавцы привозят деревья из питомников северных областей страны.",
            "Покупатели отмечают, что живые ели заметно подорожали по сравнению с прошлым годом. Продавцы объясняют рост цен подорожанием перевозки и тем, что питомники стали продавать меньше деревьев.",
            "Искусственные елки в магазинах стоят примерно столько же, сколько год назад. Многие семьи выбирают именно их, чтобы использовать одну елку несколько лет подряд.",
            "Лесная охрана напоминает, что рубить деревья в лесу без разрешения запрещено. За незаконную вырубку ели грозит штраф, а рейды по лесным массивам будут проводиться до конца праздников.",
        ],
        tags=["Нур-Султан", "Новый год", "цены"],
        author="Мария Ким",
    ),
    Story(
        when="2022-01-03 20:15",
        section="kazakhstan_news",
        id=458021,
        title="Акции протеста из-за цен на газ прошли в нескольких городах Мангистау",
        lead="Жители Жанаозена и Актау требуют снизить цену на сжиженный газ, который подорожал с начала года.",
        body=[
            "Протесты против подорожания сжиженного газа, начавшиеся в Жанаозене, во второй день нового года распространились на Актау и несколько поселков Мангистауской области.",
            "Люди собирались на площадях у зданий акиматов. Они говорят, что на газе в регионе ездит большинство автомобилей, поэтому рост цены на топливо сразу отразится на стоимости проезда и продуктов.",
            "Местные власти пообещали передать требования жителей правительству. В регион направлена правительственная комиссия, которая должна разобраться в причинах подорожания.",
            "Акции проходят мирно, полиция следит за порядком, но не вмешивается. Участники протеста заявили, что не разойдутся, пока не получат ответ от центральной власти.",
        ],
        tags=["Мангистауская область", "газ", "протесты"],
        author="Ерлан Жумабаев",
        topic="qantar",
    ),
    Story(
        when="2022-01-05 14:30",
        section="kazakhstan_news",
        id=458344,
        title="В Алматы протестующие ворвались в здание акимата",
        lead="В центре города горят автомобили, слышны взрывы светошумовых гранат, мобильный интернет не работает.",
        body=[
            "Днем в среду толпа людей прорвалась в здание городского акимата на площади Республики. Очевидцы сообщают о пожаре в здании и о столкновениях с полицией на прилегающих улицах.",
            "В центре Алматы горят автомобили, в том числе полицейские машины. Силовики применяют светошумовые гранаты и слезоточивый газ, на нескольких улицах перекрыто движение.",
            "Мобильный интернет в городе не работает со вчерашнего вечера, с перебоями работает и проводная связь. Многие магазины и банки закрылись раньше обычного, сотрудников отпустили по домам.",
            "Власти призывают жителей не выходить из домов и не приближаться к местам скопления людей. В городе действует режим чрезвычайного положения и комендантский час.",
        ],
        tags=["Алматы", "беспорядки", "чрезвычайное положение"],
        author="Данияр Абенов",
        topic="qantar",
    ),
    Story(
        when="2022-01-07 12:10",
        section="kazakhstan_news",
        id=458507,
        title="Интернет в Казахстане не работает третьи сутки",
        lead="Доступ к сети ограничен по всей стране, частично работают только отдельные сайты и сервисы внутри страны.",
        body=[
            "Казахстан третьи сутки живет почти без интернета. Мобильная связь работает с перебоями, а доступ к большинству сайтов и мессенджеров закрыт как в мобильных сетях, так и у проводных провайдеров.",
            "Из-за отключения сети не работают онлайн-платежи и многие банковские приложения. Оплатить покупки в магазинах можно только наличными, а банкоматы в крупных городах либо закрыты, либо пусты.",
            "Власти объясняют ограничения соображениями безопасности в условиях чрезвычайного положения. Сроки восстановления доступа к сети пока не называются, операторы связи советуют пользоваться SMS.",
            "Предприниматели говорят, что несут убытки: остановились интернет-магазины, службы доставки и такси. Многие компании перевели сотрудников в вынужденный отпуск.",
        ],
        tags=["интернет", "связь", "чрезвычайное положение"],
        author="Мария Ким",
        topic="qantar",
    ),
    Story(
        when="2022-01-12 18:40",
        section="kazakhstan_news",
        id=458901,
        title="МВД рассказало о задержанных участниках беспорядков",
        lead="Задержанным предъявлены обвинения в участии в массовых беспорядках, хулиганстве и грабежах.",
        body=[
            "Министерство внутренних дел сообщило о ходе расследования январских беспорядков. По данным ведомства, задержаны тысячи человек, большинство из них в Алматы и Алматинской области.",
            "Задержанных подозревают в участии в массовых беспорядках, грабежах магазинов и нападениях на полицейских. Часть из них уже отпущена под подписку о невыезде или под домашний арест.",
            "Правозащитники просят обеспечить задержанным доступ к адвокатам и проверить сообщения о давлении во время допросов. В МВД ответили, что все жалобы будут рассмотрены.",
            "В ведомстве также сообщили, что из разграбленных магазинов изъято похищенное имущество, его вернут владельцам после завершения следственных действий. Списки найденных вещей опубликуют отделы полиции.",
        ],
        tags=["МВД", "беспорядки", "расследование"],
        author="Ерлан Жумабаев",
        topic="qantar",
    ),
    Story(
        when="2022-01-14 09:30",
        section="world_news",
        id=459040,
        title="Цены на нефть обновили многолетний максимум",
        lead="Рост цен аналитики объясняют восстановлением спроса и перебоями с поставками у ряда производителей.",
        body=[
            "Стоимость нефти марки Brent на мировых биржах поднялась до максимума за несколько лет. За неделю баррель подорожал на несколько долларов, а с начала года рост превысил десять процентов.",
            "Аналитики связывают рост цен с тем, что спрос на топливо быстро восстанавливается после пандемии, а производители не успевают наращивать добычу. На рынок также влияют перебои с поставками у ряда экспортеров.",
            "Для Казахстана высокие цены на нефть означают рост экспортной выручки и поступлений в Национальный фонд. Экономисты отмечают, что это может поддержать курс тенге.",
            "При этом внутри страны цены на бензин регулируются, поэтому резкого подорожания топлива на заправках аналитики не ожидают. Запасы бензина на нефтебазах, по данным министерства энергетики, достаточные.",
        ],
        tags=["нефть", "экономика", "Brent"],
        author="Мария Ким",
    ),
    Story(
        when="2022-01-19 08:00",
        section="kazakhstan_news",
        id=459377,
        title="Режим чрезвычайного положения в Казахстане отменен",
        lead="Ограничения сняты во всех регионах страны, последними чрезвычайное положение отменили в Алматы и Алматинской области.",
        body=[
            "С сегодняшнего дня на всей территории Казахстана больше не действует режим чрезвычайного положения, введенный в начале января. Вместе с ним отменен комендантский час.",
            "Последними ограничения сняли в Алматы и Алматинской области, где они действовали дольше всего. В других регионах чрезвычайное положение было отменено несколькими днями ранее.",
            "Блокпосты на въездах в города демонтируют, общественный транспорт возвращается к обычному расписанию. Интернет и мобильная связь работают без ограничений.",
            "Уровень террористической опасности в ряде регионов пока сохраняется. Жителей просят с пониманием относиться к проверкам документов на улицах и сообщать о подозрительных предметах.",
        ],
        tags=["чрезвычайное положение", "Алматы"],
        author="Данияр Абенов",
        topic="qantar",
        modified="2022-01-19 15:10",
    ),
    Story(
        when="2022-01-26 16:20",
        section="kazakhstan_news",
        id=459910,
        title="Қаңтар оқиғасы: зардап шеккен кәсіпкерлерге өтемақы төленеді",
        lead="Тәртіпсіздік кезінде дүкені мен кеңсесі тоналған кәсіпкерлер шығынын өтеу үшін өтініш бере алады.",
        body=[
            "Қаңтардағы тәртіпсіздіктер кезінде мүлкі зардап шеккен кәсіпкерлерге өтемақы төлеу басталады. Өтінішті кәсіпкерлер палатасының өңірлік бөлімшелері қабылдайды.",
            "Өтемақы алу үшін кәсіпкер шығын туралы құжаттарды, полицияға берген арызының көшірмесін және мүлікке меншік құқығын растайтын құжаттарды ұсынуы керек. Шығынды тәуелсіз бағалаушылар анықтайды.",
            "Ең көп зардап шеккен қала Алматы: мұнда жүздеген дүкен, дәріхана мен банк бөлімшесі тоналды. Көптеген кәсіпкерлер жұмысты қайта бастау үшін жеңілдетілген несие сұрап отыр.",
            "Кәсіпкерлер палатасы өтініштерді қарау мерзімі бір айдан аспайтынын айтты. Төлемдер кезең-кезеңімен жүргізіледі, алдымен шағын бизнес өкілдері өтемақы алады.",
        ],
        tags=["қаңтар оқиғасы", "бизнес", "өтемақы"],
        author="Айгерим Сейтова",
        lang="kk",
        topic="qantar",
        note="a Kazakh article on the Russian-language site",
    ),
    Story(
        when="2022-02-01 10:00",
        section="sport",
        id=460233,
        title="Казахстанские фигуристы отправились на Олимпиаду в Пекин",
        lead="Сборная по фигурному катанию провела последнюю тренировку дома и вылетела в олимпийскую деревню.",
        body=[
            "Казахстанские фигуристы завершили подготовку к зимним Олимпийским играм и вылетели в Пекин. Последнюю тренировку перед отъездом спортсмены провели на домашнем льду.",
            "Тренеры рассказали, что спортсмены подошли к Играм здоровыми и в хорошей форме. Произвольные программы обновили в начале сезона, чтобы включить в них более сложные элементы.",
            "По прилете спортсмены пройдут тестирование на коронавирус и проведут в олимпийской деревне несколько дней до первых стартов. Все участники Игр живут в закрытой зоне.",
            "Болельщики смогут увидеть выступления казахстанцев в прямом эфире. Расписание трансляций опубликовали спортивные телеканалы, первые старты фигуристов пройдут в командном турнире.",
        ],
        tags=["Олимпиада", "фигурное катание", "спорт"],
        author="Ерлан Жумабаев",
    ),
    Story(
        when="2022-02-08 13:50",
        section="kazakhstan_news",
        id=460712,
        title="В Алматы восстанавливают здания, пострадавшие во время беспорядков",
        lead="Ремонт здания акимата и резиденции займет несколько месяцев, магазины и кафе уже открываются после погромов.",
        body=[
            "В Алматы продолжаются работы по восстановлению зданий, которые пострадали во время январских беспорядков. Строители разбирают обгоревшие конструкции в здании акимата на площади Республики.",
            "По словам представителей акимата, восстановление административных зданий займет несколько месяцев. Сотрудники городских служб временно работают в других помещениях.",
            "Владельцы магазинов и кафе, разграбленных в январе, постепенно возобновляют работу. Многие вставили новые витрины и закупили товар заново, рассчитывая на обещанную государством компенсацию.",
            "Горожане приносят цветы к местам, где погибли люди. Жители предлагают установить в городе памятный знак в память о жертвах январских событий. В акимате говорят, что место для него выберут вместе с горожанами.",
        ],
        tags=["Алматы", "восстановление", "беспорядки"],
        author="Данияр Абенов",
        topic="qantar",
    ),
    Story(
        when="2022-02-14 11:15",
        section="kazakhstan_news",
        id=461105,
        title="Записаться к врачу теперь можно через мобильное приложение",
        lead="Новая услуга работает в поликлиниках крупных городов, в других регионах ее подключат до конца года.",
        body=[
            "Жители крупных городов могут записаться на прием к участковому врачу через мобильное приложение. Для этого нужно войти по индивидуальному идентификационному номеру и выбрать удобное время.",
            "В министерстве здравоохранения рассказали, что приложение показывает свободные окна у терапевтов, педиатров и узких специалистов, к которым можно записаться без направления.",
            "Звонки в регистратуру и очереди в поликлиниках при этом сохраняются для тех, кто не пользуется смартфонами. Пожилых пациентов по-прежнему записывают по телефону.",
            "До конца года услугу планируют подключить во всех регионах. Отзывы пациентов помогут доработать приложение, например добавить напоминания о приеме и возможность перенести запись на другое время.",
        ],
        tags=["здравоохранение", "поликлиники", "цифровизация"],
        author="Айгерим Сейтова",
    ),
    Story(
        when="2022-02-21 15:00",
        section="kazakhstan_news",
        id=461580,
        title="Спасатели начали готовиться к весеннему паводку в северных областях",
        lead="Снега этой зимой выпало больше нормы, поэтому в зоне риска находятся десятки населенных пунктов.",
        body=[
            "Министерство по чрезвычайным ситуациям начало подготовку к весеннему паводку. По данным синоптиков, в северных и центральных областях этой зимой выпало больше снега, чем обычно.",
            "Спасатели вывозят снег из населенных пунктов, расчищают русла рек и водоотводные каналы. В поселках, которые подтапливало в прошлые годы, укрепляют дамбы и готовят мешки с песком.",
            "Жителей низин просят заранее подготовить документы и ценные вещи к возможной эвакуации. Для тех, кому придется покинуть дома, подготовлены пункты временного размещения в школах.",
            "Пик паводка синоптики ожидают в конце марта – начале апреля. Сроки будут зависеть от того, насколько быстро весной начнет таять снег и будут ли дожди.",
        ],
        tags=["паводок", "МЧС", "погода"],
        author="Мария Ким",
    ),
]

SIDEBAR = [
    "Курс доллара на утро: сколько стоит валюта в обменниках",
    "В Шымкенте открыли новый парк для семейного отдыха",
    "Автобусы на электротяге выйдут на маршруты Караганды",
    "Кто из казахстанских теннисистов сыграет на турнире в Австралии",
    "В Атырау построят новую больницу на двести коек",
    "Как оформить пособие по уходу за ребенком онлайн",
    "Погода на выходные: в горах ожидаются снегопады",
    "Экспорт мяса из Казахстана ограничат на полгода",
    "В Таразе выбрали лучших учителей года",
    "Популярный сериал снимут в Мангистауской области",
]
READ_ALSO = [
    "Как изменились цены на коммунальные услуги за год",
    "Сколько стоит содержание автомобиля в Алматы",
    "Почему в Казахстане дорожают продукты: объясняют экономисты",
    "Где в Казахстане самый чистый воздух",
]
FOOTER = (
    "При полном или частичном использовании материалов ссылка на Tengrinews.kz обязательна",
    "Все права защищены",
    "Реклама на сайте",
    "Пользовательское соглашение",
)
MENU = ("Казахстан", "Мир", "Спорт", "Общество", "Видео", "Мнения")
SUBSCRIBE = "Подписывайтесь на наш Telegram-канал, чтобы первыми узнавать главные новости"
PHOTO = "Фото: пресс-служба акимата"


@dataclass
class _Page:
    story: Story
    published: datetime
    modified: datetime | None
    title: str
    body: list[str]
    article: ReplicaArticle


class GenericSite(Site):
    """The replica of a generic outlet served to `scrapy crawl news -a outlet=tengrinews`."""

    article_path_regex = r"^/[a-z_]+/[a-z0-9-]+-\d+/$"

    def __init__(self) -> None:
        self._pages: dict[str, _Page] = {}
        self._by_id: dict[int, _Page] = {}
        for story in STORIES:
            published = local(story.when)
            modified = local(story.modified) if story.modified else None
            path = f"/{story.section}/{translit(story.title)}-{story.id}/"
            article = ReplicaArticle(
                id=story.id,
                url=path,
                path=path,
                title=story.title,
                lead=story.lead,
                paragraphs=list(story.body),
                published=published.isoformat(),
                modified=modified.isoformat() if modified else None,
                author=story.author,
                tags=list(story.tags),
                lang=story.lang,
                topic=story.topic,
                note=story.note,
            )
            page = _Page(story, published, modified, story.title, list(story.body), article)
            self._pages[path] = page
            self._by_id[story.id] = page
        self.articles = [page.article for page in self._pages.values()]
        self.chrome_phrases = [
            *SIDEBAR,
            *READ_ALSO,
            *FOOTER,
            SUBSCRIBE,
            PHOTO,
            "Читайте также",
            "Последние новости",
            "Самое читаемое",
            "Курс валют",
        ]
        for article in self.articles:
            for phrase in self.chrome_phrases:
                seen = [article.title, article.lead, *article.paragraphs]
                assert not any(phrase in part for part in seen), (phrase, article.path)

    def edit_article(
        self,
        article_id: int,
        *,
        title: str | None = None,
        add_paragraph: str | None = None,
        modified: str,
    ) -> ReplicaArticle:
        page = self._by_id[article_id]
        if title is not None:
            page.title = page.article.title = title
        if add_paragraph is not None:
            page.body.append(add_paragraph)
            page.article.paragraphs = list(page.body)
        page.modified = parse_iso(modified)
        page.article.modified = page.modified.isoformat()
        return page.article

    # -- serving -----------------------------------------------------------------------------

    def reply(self, method: str, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        if path == "/robots.txt":
            robots = (
                "User-agent: *\nDisallow: /search/\nDisallow: /user/\n\n"
                f"Sitemap: {self.origin}/sitemap_ru.xml\n"
            )
            return _reply(robots, "text/plain; charset=utf-8")
        if path == "/news.rss":
            return _reply(self._feed(), "application/rss+xml; charset=utf-8")
        if path == "/sitemap_ru.xml":
            return _reply(self._sitemap_index(), "application/xml; charset=utf-8")
        if path.startswith("/sitemap-news-") and path.endswith(".xml"):
            try:
                year, month = map(int, path[len("/sitemap-news-") : -4].split("-"))
            except ValueError:
                year = month = 0
            if (year, month) in SITEMAP_MONTHS:
                return _reply(self._sitemap(year, month), "application/xml; charset=utf-8")
        page = self._pages.get(path)
        if page is not None:
            return _reply(self._article_page(page), "text/html; charset=utf-8")
        if path == "/":
            feed = (
                f'<link rel="alternate" type="application/rss+xml" href="{self.origin}/news.rss">'
            )
            return _reply(self._layout(NAME, self._front(), head=feed), "text/html; charset=utf-8")
        body = self._layout("Страница не найдена", "<h1>Страница не найдена</h1>", head="")
        return Reply(404, body.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def _newest_first(self) -> list[_Page]:
        return sorted(self._pages.values(), key=lambda p: p.published, reverse=True)

    def _feed(self) -> str:
        items = []
        for page in self._newest_first()[:FEED_ITEMS]:
            url = self.origin + page.article.path
            items.append(
                f"<item><title>{_e(page.title)}</title><link>{_e(url)}</link>"
                f'<guid isPermaLink="true">{_e(url)}</guid>'
                f"<pubDate>{format_datetime(page.published)}</pubDate>"
                f"<description>{_e(page.story.lead)}</description>"
                f"<category>{_e(page.story.tags[0])}</category>"
                f'<enclosure url="{self.origin}/userdata/news/{page.story.id}.jpg" '
                'type="image/jpeg" length="0"/></item>'
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
            f"<title>{NAME}</title><link>{self.origin}/</link>"
            "<description>Новости Казахстана и мира</description><language>ru</language>"
            f"{''.join(items)}</channel></rss>\n"
        )

    def _lastmod(self, page: _Page) -> datetime:
        return page.modified or page.published

    def _sitemap_index(self) -> str:
        entries = []
        for year, month in SITEMAP_MONTHS:
            pages = [
                p
                for p in self._pages.values()
                if (p.published.year, p.published.month) == (year, month)
            ]
            if not pages:
                continue
            lastmod = max(self._lastmod(p) for p in pages)
            entries.append(
                f"<sitemap><loc>{self.origin}/sitemap-news-{year}-{month:02d}.xml</loc>"
                f"<lastmod>{lastmod.isoformat()}</lastmod></sitemap>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{''.join(entries)}</sitemapindex>\n"
        )

    def _sitemap(self, year: int, month: int) -> str:
        urls = []
        for page in self._newest_first():
            if (page.published.year, page.published.month) != (year, month):
                continue
            urls.append(
                f"<url><loc>{_e(self.origin + page.article.path)}</loc>"
                f"<lastmod>{self._lastmod(page).isoformat()}</lastmod>"
                "<news:news><news:publication>"
                f"<news:name>{NAME}</news:name><news:language>{page.story.lang}</news:language>"
                "</news:publication>"
                f"<news:publication_date>{page.published.isoformat()}</news:publication_date>"
                f"<news:title>{_e(page.title)}</news:title></news:news></url>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{''.join(urls)}</urlset>\n"
        )

    def _front(self) -> str:
        return "".join(
            f'<div class="tn-article-item"><a href="{p.article.path}">{_e(p.title)}</a></div>'
            for p in self._newest_first()[:8]
        )

    def _article_page(self, page: _Page) -> str:
        story = page.story
        url = self.origin + page.article.path
        pub = page.published
        mod = page.modified
        ld = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": page.title,
            "description": story.lead,
            "datePublished": pub.isoformat(),
            "dateModified": (mod or pub).isoformat(),
            "author": {"@type": "Person", "name": story.author},
            "publisher": {"@type": "Organization", "name": NAME},
            "mainEntityOfPage": url,
            "image": f"{self.origin}/userdata/news/{story.id}.jpg",
            "inLanguage": story.lang,
        }
        head = (
            f'<meta name="description" content="{_e(story.lead)}">'
            f'<meta name="keywords" content="{_e(", ".join(story.tags))}">'
            f'<meta name="author" content="{_e(story.author)}">'
            f'<link rel="canonical" href="{_e(url)}">'
            f'<meta property="og:title" content="{_e(page.title)}">'
            f'<meta property="og:description" content="{_e(story.lead)}">'
            f'<meta property="og:url" content="{_e(url)}">'
            '<meta property="og:type" content="article">'
            f'<meta property="og:site_name" content="{NAME}">'
            f'<meta property="article:published_time" content="{pub.isoformat()}">'
            + (
                f'<meta property="article:modified_time" content="{mod.isoformat()}">'
                if mod
                else ""
            )
            + "".join(f'<meta property="article:tag" content="{_e(t)}">' for t in story.tags)
            + f'<script type="application/ld+json">{json.dumps(ld, ensure_ascii=False)}</script>'
        )
        read_also = READ_ALSO[story.id % len(READ_ALSO)]
        paragraphs = []
        for n, text in enumerate(page.body, start=1):
            paragraphs.append(f"<p>{_e(text)}</p>")
            if n == 1:
                paragraphs.append(
                    f'<figure><img src="/userdata/news/{story.id}-1.jpg" alt="">'
                    f"<figcaption>{_e(PHOTO)}</figcaption></figure>"
                )
            if n == 2:
                paragraphs.append(
                    f'<p><strong>Читайте также:</strong> <a href="/kazakhstan_news/'
                    f'{translit(read_also)}-{story.id - 40_000}/">{_e(read_also)}</a></p>'
                )
        paragraphs.append(
            f'<p class="subscribe"><a href="https://t.me/tengrinews">{_e(SUBSCRIBE)}</a></p>'
        )
        date_text = f"{pub.day} {MONTHS[pub.month - 1]} {pub.year}, {pub:%H:%M}"
        tags = "".join(f'<a class="tag" href="/tag/{translit(t)}/">{_e(t)}</a>' for t in story.tags)
        main = (
            '<div class="content-wrapper"><main class="content">'
            '<article class="news-article">'
            f'<h1 class="head-single">{_e(page.title)}</h1>'
            f'<div class="date-time"><time datetime="{pub.isoformat()}">{date_text}</time></div>'
            f'<div class="byline">{_e(story.author)}</div>'
            f'<div class="lead">{_e(story.lead)}</div>'
            f'<div class="text">{"".join(paragraphs)}</div>'
            f'<div class="tags">{tags}</div>'
            "</article>"
            f"{self._share()}"
            "</main>"
            f"{self._aside(page)}"
            "</div>"
        )
        return self._layout(f"{page.title} - {NAME}", main, head=head, lang=story.lang)

    def _share(self) -> str:
        return (
            '<div class="share"><span>Поделиться:</span>'
            '<a href="https://t.me/share/url">Telegram</a>'
            '<a href="https://wa.me/">WhatsApp</a><a href="https://vk.com/share.php">VK</a></div>'
        )

    def _aside(self, page: _Page) -> str:
        latest = "".join(
            f'<li><a href="/kazakhstan_news/{translit(h)}-{461_900 + n}/">{_e(h)}</a>'
            f"<span>{(page.published - timedelta(minutes=13 * n)):%H:%M}</span></li>"
            for n, h in enumerate(SIDEBAR[:6])
        )
        popular = "".join(
            f'<li><a href="/kazakhstan_news/{translit(h)}-{461_950 + n}/">{_e(h)}</a></li>'
            for n, h in enumerate(SIDEBAR[6:])
        )
        return (
            '<aside class="sidebar">'
            f'<div class="widget"><h3>Последние новости</h3><ul class="last-news">{latest}</ul></div>'
            f'<div class="widget"><h3>Самое читаемое</h3><ul class="popular">{popular}</ul></div>'
            "</aside>"
        )

    def _layout(self, title: str, main: str, *, head: str, lang: str = "ru") -> str:
        menu = "".join(f'<li><a href="/{translit(m)}/">{_e(m)}</a></li>' for m in MENU)
        footer = "".join(f"<p>{_e(line)}</p>" for line in FOOTER)
        return (
            f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>{_e(title)}</title>{head}</head><body>"
            f'<header class="header"><a class="logo" href="/">{NAME}</a>'
            f'<nav class="menu"><ul>{menu}</ul></nav>'
            '<div class="currency">Курс валют: USD 431,67 · EUR 488,12 · RUB 5,71</div>'
            '<form class="search" action="/search/"><input name="text"></form></header>'
            f"{main}"
            f'<footer class="footer">{footer}<p>© 2022 {NAME}</p></footer>'
            f"<script>var KZT_TIME = {int(KZ_TIME.utcoffset(None).total_seconds())};</script>"
            "</body></html>"
        )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _reply(body: str, content_type: str) -> Reply:
    return Reply(200, body.encode("utf-8"), {"Content-Type": content_type})
