"""Generate a deterministic, realistic corpus of article files for benchmarks.

Usage::

    python benchmarks/gen_corpus.py OUT_DIR --count N [--seed S] [--end ISO]
    python benchmarks/gen_corpus.py OUT_DIR --mutate FRACTION [--seed S] [--end ISO]

The first form writes N article files in the exact format of the seed article
(YAML front matter between ``---`` lines, about 3.5 KB each) as
``OUT_DIR/NNN/NNNNNN_<16 hex>.txt`` (index // 1000, then the index from 0), so
each sub-directory holds 1,000 files. Same arguments, same bytes. OUT_DIR must
not already contain articles. 100,000 articles take about 15 s.

The corpus is shaped like a real feed dump:

- topics are drawn from 300 fixed names with a Zipf law (a few very common ones,
  a long tail; some non-ASCII); 1-3 topics per article, about 4% have none; 3%
  of topic mentions are spelled differently ("ai", "machine-learning");
- empty ``topics``, ``images`` and ``related`` lists are left out, as in the real
  samples; about 2/3 of the articles carry an AMP URL;
- about 10% are drafts (``published: false``);
- about 8% are URL variants of an earlier article (same story; ``utm_*`` query,
  AMP URL, ``http://``, ``www.`` added or dropped, trailing slash);
- about 5% are syndicated copies of an earlier article: same title (sometimes with
  a ``" - Provider"`` suffix), another provider, published 0-48 h later;
- publication dates spread over the 60 days before ``--end`` (a fixed default, so
  the output does not depend on the clock); heat and quality are 0-100.

The second form changes an existing corpus in place, like one refresh of the feed
dump: of ``round(FRACTION * existing)`` files, half are edited (new heat; some get a
new title or go from draft to published; the file is replaced and its mtime is
bumped by at least 1 s) and the other half are added as new articles, numbered on
from the highest index (some of them duplicates or syndicated copies of existing
ones). Files are replaced atomically (temporary file, then rename). Given the
same corpus and seed, the changes are the same bytes; use a different seed for
each successive mutation.
"""

from __future__ import annotations

import argparse
import base64
import calendar
import os
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

FILES_PER_DIR = 1000
DEFAULT_END = "2026-11-27T00:00:00Z"
WINDOW_SECONDS = 60 * 86400
SYNDICATION_LAG_SECONDS = 48 * 3600

DRAFT_SHARE = 0.10
URL_VARIANT_SHARE = 0.08
SYNDICATED_SHARE = 0.05
NO_TOPIC_SHARE = 0.04
VARIANT_SPELLING_SHARE = 0.03
ZIPF_EXPONENT = 1.1

# fmt: off
_HEAD_TOPICS = (
    "AI", "Apple", "Google", "Microsoft", "Amazon", "Security", "Facebook", "Tesla",
    "Smartphones", "COVID-19", "Cloud Computing", "Privacy", "Machine Learning",
    "Startups", "Gaming", "Android", "iPhone", "Crypto", "Space", "Electric Vehicles",
)
_TAIL_TOPICS = (
    "AWS", "SpaceX", "Netflix", "Twitter", "Samsung", "Intel", "AMD", "Nvidia",
    "Qualcomm", "IBM", "Oracle", "Salesforce", "Uber", "Lyft", "Airbnb", "Spotify",
    "TikTok", "Huawei", "Xiaomi", "Sony", "Nintendo", "Xbox", "PlayStation", "iPad",
    "Mac", "Windows", "Linux", "Chrome", "Firefox", "Zoom", "Slack", "GitHub",
    "Python", "JavaScript", "Rust", "Kubernetes", "Docker", "Blockchain", "Bitcoin",
    "Ethereum", "5G", "Self-Driving Cars", "Robotics", "Drones", "NASA",
    "Climate Change", "Renewable Energy", "Solar Power", "Batteries", "Semiconductors",
    "Wearables", "Smart Home", "Esports", "Streaming", "Social Media", "E-Commerce",
    "Venture Capital", "IPO", "Stock Market", "Economy", "Jobs", "Remote Work",
    "Education", "Healthcare", "Vaccines", "Biotech", "Genomics", "Quantum Computing",
    "Deep Learning", "Computer Vision", "Natural Language Processing",
    "Facial Recognition", "Data Breach", "Ransomware", "Antitrust", "Regulation",
    "Net Neutrality", "Supreme Court", "Elections", "Censorship", "Misinformation",
    "Open Source", "Developer Tools", "Databases", "Big Data", "Analytics",
    "Augmented Reality", "Virtual Reality", "Chips", "Apple Watch", "AirPods", "Pixel",
    "Galaxy", "Surface", "Alexa", "Siri", "Google Assistant", "YouTube", "Instagram",
    "WhatsApp", "Snapchat", "Reddit", "LinkedIn", "Pinterest", "Twitch", "Discord",
    "Telegram", "Signal", "Node.js", "AT&T", "Verizon", "T-Mobile", "Zürich Tech",
    "São Paulo Startups", "Наука", "Космос",
)
_TOPIC_COMPANIES = (
    "Apple", "Google", "Microsoft", "Amazon", "AWS", "Facebook", "Tesla", "Samsung",
    "Intel", "Nvidia", "IBM", "Netflix", "Uber", "Huawei", "Sony", "Twitter",
    "Oracle", "Qualcomm", "Spotify", "TikTok",
)
_TOPIC_AREAS = (
    "AI", "Cloud", "Security", "Privacy", "Hardware", "Earnings", "Lawsuit", "Layoffs",
    "Acquisitions", "Research", "Patents", "Leadership",
)
TOPIC_COUNT = 300
RECENT_POOL = 2000

_PROVIDERS = (
    ("Mic", "mic.com"), ("Tech.co", "tech.co"), ("MSPoweruser", "mspoweruser.com"),
    ("The Verge", "theverge.com"), ("TechCrunch", "techcrunch.com"),
    ("Ars Technica", "arstechnica.com"), ("Engadget", "engadget.com"),
    ("Wired", "wired.com"), ("ZDNet", "zdnet.com"), ("CNET", "cnet.com"),
    ("The Next Web", "thenextweb.com"), ("VentureBeat", "venturebeat.com"),
    ("Gizmodo", "gizmodo.com"), ("Mashable", "mashable.com"),
    ("Business Insider", "businessinsider.com"), ("Reuters", "reuters.com"),
    ("Bloomberg", "bloomberg.com"), ("CNBC", "cnbc.com"),
    ("The Guardian", "theguardian.com"), ("BBC News", "bbc.co.uk"),
    ("Forbes", "forbes.com"), ("Fortune", "fortune.com"), ("Axios", "axios.com"),
    ("Quartz", "qz.com"), ("Fast Company", "fastcompany.com"),
    ("Wired UK", "wired.co.uk"), ("9to5Mac", "9to5mac.com"),
    ("MacRumors", "macrumors.com"), ("AppleInsider", "appleinsider.com"),
    ("Android Central", "androidcentral.com"), ("Android Police", "androidpolice.com"),
    ("XDA Developers", "xda-developers.com"), ("Tom's Hardware", "tomshardware.com"),
    ("AnandTech", "anandtech.com"), ("PCWorld", "pcworld.com"),
    ("Digital Trends", "digitaltrends.com"), ("The Register", "theregister.com"),
    ("Neowin", "neowin.net"), ("Windows Central", "windowscentral.com"),
    ("GeekWire", "geekwire.com"), ("SiliconANGLE", "siliconangle.com"),
    ("InfoQ", "infoq.com"), ("Protocol", "protocol.com"), ("Vox", "vox.com"),
    ("MIT Technology Review", "technologyreview.com"),
    ("New Scientist", "newscientist.com"), ("Electrek", "electrek.co"),
    ("Space.com", "space.com"), ("heise online", "heise.de"),
    ("Le Monde Informatique", "lemondeinformatique.fr"),
)

_SUBJECTS = (
    "Regulators", "Investors", "Engineers", "Researchers", "Lawmakers", "Users",
    "Developers", "Analysts", "Critics", "Employees", "Startups", "Schools", "Cities",
    "Hospitals", "Retailers", "Carriers", "Banks", "Gamers", "Creators", "Scientists",
)
_VERBS = (
    "is banning", "launches", "unveils", "delays", "acquires", "tests", "expands",
    "cuts", "rethinks", "opens", "sues", "warns about", "doubles down on", "abandons",
    "quietly updates", "rolls out", "pauses", "reveals", "teases", "confirms",
    "is building", "bets on", "drops", "backs", "explains", "responds to",
)
_ADJECTIVES = (
    "new", "controversial", "faster", "cheaper", "open", "private", "secure", "global",
    "experimental", "long-awaited", "affordable", "powerful", "smaller", "foldable",
    "wireless", "autonomous", "mysterious", "upgraded", "redesigned", "free", "paid",
    "internal", "public", "first", "last", "biggest", "quiet", "bold", "risky",
)
_NOUNS = (
    "facial recognition tech", "chip", "app", "platform", "service", "update",
    "subscription", "headset", "laptop", "phone", "browser", "policy", "feature",
    "data center", "battery", "satellite", "car", "robot", "model", "algorithm",
    "marketplace", "camera", "console", "program", "partnership", "lawsuit",
    "investigation", "moratorium", "rule", "standard", "network", "operating system",
    "search engine", "assistant", "studio", "fund", "deal", "report", "study",
    "café menu", "keyboard", "smartwatch", "tablet", "router", "drone", "rocket",
)
_TAILS = (
    "for one year", "after backlash", "amid protests", "in Europe", "in the US",
    "this fall", "next month", "for developers", "for police", "for schools",
    "despite concerns", "ahead of launch", "as sales slow", "to rival Apple",
    "to take on Google", "with a twist", "at last", "for the first time",
    "again", "in 2021", "before the holidays", "under pressure", "in Zürich",
)
_FILLER = (
    "the", "company", "said", "on", "Tuesday", "that", "it", "would", "stop",
    "selling", "its", "to", "and", "as", "cities", "across", "country", "start",
    "rethink", "how", "law", "enforcement", "should", "operate", "companies", "are",
    "also", "beginning", "reconsider", "their", "relationships", "with", "just",
    "days", "after", "revealed", "new", "product", "users", "market", "billion",
    "million", "report", "according", "people", "familiar", "plans", "move",
    "comes", "week", "earlier", "statement", "spokesperson", "declined", "comment",
    "technology", "industry", "analysts", "expect", "growth", "quarter", "data",
    "privacy", "security", "customers", "government", "officials", "announced",
)
_URL_VARIANTS = ("utm", "amp", "http", "www", "slash")
_UTM_SOURCES = ("twitter", "facebook", "newsletter", "rss", "linkedin", "reddit")
_CATEGORIES = ("news", "news", "news", "news", "news", "news", "tech", "business")
_TYPES = ("article", "article", "article", "article", "article", "article", "video")
# fmt: on

_SLUG_JUNK = re.compile(r"[^a-z0-9]+")
_HEAT_LINE = re.compile(r"^heat: (\d+)$", re.M)
_TITLE_LINE = re.compile(r'^title: "(.*)"$', re.M)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DRAFT_LINE = re.compile(r"^published: false$", re.M)
_INDEX_NAME = re.compile(r"^(\d+)_[0-9a-f]+\.txt$")
_WORDS_AND_SPACES = re.compile(r"[^\W_]+( [^\W_]+)+")


def topic_names() -> list[str]:
    """The fixed topic vocabulary, most frequent first (Zipf rank order).

    Every name is a safe plain YAML scalar and names stay distinct after any sane
    slugification (lower-casing, punctuation to dashes).
    """
    names = list(_HEAD_TOPICS)
    tail = list(_TAIL_TOPICS)
    tail += [f"{c} {a}" for c in _TOPIC_COMPANIES for a in _TOPIC_AREAS]
    tail = [t for t in dict.fromkeys(tail) if t not in names]
    random.Random(0).shuffle(tail)
    names += tail[: TOPIC_COUNT - len(names)]
    return names


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    domain: str


@dataclass(slots=True)
class Image:
    url: str
    width: int
    height: int
    title: str | None


@dataclass(slots=True)
class Item:
    """One story as written in a file: the article itself or one of its related."""

    title: str
    excerpt: str
    published_at: int  # Unix seconds, UTC
    web_url: str
    amp_url: str | None
    type: str
    provider: Provider
    quality: int
    images: list[Image]


@dataclass(slots=True)
class Article(Item):
    category: str = "news"
    heat: int = 0
    published: bool = True
    topics: list[str] = field(default_factory=list)
    related: list[Item] = field(default_factory=list)
    secured: str = ""


def _q(text: str) -> str:
    """A YAML double-quoted scalar."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _cdn_amp(amp_url: str) -> str:
    """The Google AMP cache address of an AMP page, as the seed article has it."""
    scheme, _, rest = amp_url.partition("://")
    host = rest.split("/", 1)[0]
    cdn_host = host.replace("-", "--").replace(".", "-")
    prefix = "/c/s/" if scheme == "https" else "/c/"
    return f"https://{cdn_host}.cdn.ampproject.org{prefix}{rest}"


def _render_images(images: list[Image], indent: str) -> str:
    lines = []
    for image in images:
        lines.append(f"{indent}- url: {_q(image.url)}")
        lines.append(f"{indent}  width: {image.width}")
        lines.append(f"{indent}  height: {image.height}")
        lines.append(f"{indent}  isCached: true")
        if image.title is not None:
            lines.append(f"{indent}  title: {_q(image.title)}")
    return "\n".join(lines)


def _render_related(item: Item) -> str:
    lines = [
        f"  - title: {_q(item.title)}",
        f"    excerpt: {_q(item.excerpt)}",
        f"    publishedDateTime: {_iso(item.published_at)}",
        f"    webUrl: {_q(item.web_url)}",
    ]
    if item.amp_url is not None:
        lines.append(f"    ampWebUrl: {_q(item.amp_url)}")
        lines.append(f"    cdnAmpWebUrl: {_q(_cdn_amp(item.amp_url))}")
    lines += [
        f"    type: {item.type}",
        "    provider:",
        f"      name: {item.provider.name}",
        f"      domain: {item.provider.domain}",
        f"    quality: {item.quality}",
    ]
    if item.images:
        lines.append("    images:")
        lines.append(_render_images(item.images, "      "))
    return "\n".join(lines)


def render(article: Article) -> str:
    """The file text of an article, byte for byte in the seed article's layout."""
    amp = ""
    if article.amp_url is not None:
        amp = f"ampWebUrl: {_q(article.amp_url)}\ncdnAmpWebUrl: {_q(_cdn_amp(article.amp_url))}\n"
    # Empty lists are left out, as in the real sample articles.
    lists = ""
    if article.topics:
        lists += "topics:" + "".join(f"\n  - {t}" for t in article.topics) + "\n\n"
    if article.images:
        lists += f"images:\n{_render_images(article.images, '  ')}\n\n"
    if article.related:
        lists += "related:" + "".join("\n" + _render_related(r) for r in article.related)
        lists += "\n\n"
    return (
        "---\n"
        f"category: {article.category}\n"
        f"title: {_q(article.title)}\n"
        f"excerpt: {_q(article.excerpt)}\n"
        f"publishedDateTime: {_iso(article.published_at)}\n"
        f"webUrl: {_q(article.web_url)}\n"
        f"{amp}"
        f"type: {article.type}\n"
        f"quality: {article.quality}\n"
        f"heat: {article.heat}\n"
        f"published: {'true' if article.published else 'false'}\n"
        "\n"
        "provider:\n"
        f"  name: {article.provider.name}\n"
        f"  domain: {article.provider.domain}\n"
        "\n"
        f"{lists}"
        f"secured: {_q(article.secured)}\n"
        "---\n"
    )


def _epoch(value: object) -> int:
    if isinstance(value, datetime):
        return calendar.timegm(value.utctimetuple())
    return calendar.timegm(time.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ"))


def _images_from(raw: list[dict[str, Any]] | None) -> list[Image]:
    return [Image(i["url"], int(i["width"]), int(i["height"]), i.get("title")) for i in raw or []]


def _item_fields(raw: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": raw["title"],
        "excerpt": raw["excerpt"],
        "published_at": _epoch(raw["publishedDateTime"]),
        "web_url": raw["webUrl"],
        "amp_url": raw.get("ampWebUrl"),
        "type": raw["type"],
        "provider": Provider(str(raw["provider"]["name"]), raw["provider"]["domain"]),
        "quality": int(raw["quality"]),
        "images": _images_from(raw.get("images")),
    }


def parse(text: str) -> Article:
    """Read back a file written by :func:`render` (used by ``--mutate``)."""
    raw = yaml.load(text.split("---\n")[1], Loader=_LOADER)
    return Article(
        **_item_fields(raw),
        category=raw["category"],
        heat=int(raw["heat"]),
        published=bool(raw["published"]),
        topics=[str(t) for t in raw.get("topics") or []],
        related=[Item(**_item_fields(r)) for r in raw.get("related") or []],
        secured=raw["secured"],
    )


class Generator:
    """Draws articles from one seeded random stream: same seed, same articles."""

    def __init__(self, seed: int, end: int) -> None:
        self.rng = random.Random(seed)
        self.end = end
        self.topics = topic_names()
        weights = [1.0 / (rank**ZIPF_EXPONENT) for rank in range(1, len(self.topics) + 1)]
        self._topic_cum = [sum(weights[: i + 1]) for i in range(len(weights))]
        self.providers = [Provider(n, d) for n, d in _PROVIDERS]

    def _words(self, low: int, high: int) -> str:
        return " ".join(self.rng.choices(_FILLER, k=self.rng.randint(low, high)))

    def _title(self) -> str:
        rng = self.rng
        subject = rng.choice(self.topics[:120] + list(_SUBJECTS))
        title = f"{subject} {rng.choice(_VERBS)} {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        if rng.random() < 0.7:
            title += f" {rng.choice(_TAILS)}"
        if rng.random() < 0.3:
            title += f": {self._words(2, 5)}"
        if rng.random() < 0.03:
            title = f'"{title}"'
        return title[0].upper() + title[1:]

    def _excerpt(self) -> str:
        text = self._words(40, 55)
        text = text[0].upper() + text[1:]
        return text[: text.rfind(" ", 0, self.rng.randint(200, 245))]

    def _url(self, provider: Provider, title: str, published_at: int) -> str:
        slug = _SLUG_JUNK.sub("-", title.lower()).strip("-")
        day = time.gmtime(published_at)
        style = sum(map(ord, provider.domain)) % 3
        if style == 0:
            return f"https://www.{provider.domain}/p/{slug}-{self.rng.randrange(10**7, 10**8)}"
        if style == 1:
            return f"https://{provider.domain}/news/{slug}-{day.tm_year}-{day.tm_mon:02d}"
        return f"https://{provider.domain}/{day.tm_year}/{day.tm_mon:02d}/{day.tm_mday:02d}/{slug}/"

    def _amp(self, web_url: str) -> str | None:
        if self.rng.random() < 0.4:
            return None
        return web_url + ("amp/" if web_url.endswith("/") else "/amp")

    def _images(
        self, provider: Provider, title: str | None, published_at: int, low: int, high: int
    ) -> list[Image]:
        rng = self.rng
        day = time.gmtime(published_at)
        images = []
        for _ in range(rng.randint(low, high)):
            width = rng.choice((800, 1024, 1200, 1600, 1920))
            images.append(
                Image(
                    f"https://images.{provider.domain}/uploads/{day.tm_year}/{day.tm_mon:02d}/"
                    f"{rng.getrandbits(96):024x}.jpg?w={width}&q=70&fit=crop&fm=jpg",
                    width,
                    width * rng.choice((9, 10, 12)) // 16,
                    title,
                )
            )
        return images

    def _item(self, published_at: int) -> Item:
        rng = self.rng
        provider = rng.choice(self.providers)
        title = self._title()
        web_url = self._url(provider, title, published_at)
        return Item(
            title=title,
            excerpt=self._excerpt(),
            published_at=published_at,
            web_url=web_url,
            amp_url=self._amp(web_url),
            type=rng.choice(_TYPES),
            provider=provider,
            quality=rng.randint(0, 100),
            images=self._images(provider, None, published_at, 0, 1),
        )

    def _topics(self) -> list[str]:
        rng = self.rng
        if rng.random() < NO_TOPIC_SHARE:
            return []
        want = rng.choices((1, 2, 3), weights=(50, 35, 15))[0]
        chosen: list[str] = []
        while len(chosen) < want:
            topic = rng.choices(self.topics, cum_weights=self._topic_cum)[0]
            if topic not in chosen:
                chosen.append(topic)
        return [self._spelling(t) if rng.random() < VARIANT_SPELLING_SHARE else t for t in chosen]

    def _spelling(self, topic: str) -> str:
        """Another spelling of a topic, as real feeds write "Machine Learning" as
        "machine-learning": lower case, and spaces as dashes when that is the only
        punctuation (so that Hugo, too, files both spellings under one term)."""
        lower = topic.lower()
        if _WORDS_AND_SPACES.fullmatch(topic) and self.rng.random() < 0.5:
            return lower.replace(" ", "-")
        return lower

    def _secured(self) -> str:
        blob = base64.b64encode(self.rng.randbytes(self.rng.randint(420, 470)))
        key = base64.b64encode(self.rng.randbytes(16))
        return f"{blob.decode()};{key.decode()}"

    def _heat(self) -> int:
        return min(100, int(self.rng.expovariate(1 / 30)))

    def original(self) -> Article:
        """A new story."""
        rng = self.rng
        published_at = self.end - rng.randrange(WINDOW_SECONDS // 60) * 60
        item = self._item(published_at)
        related = [
            self._item(published_at - rng.randrange(7 * 86400 // 60) * 60)
            for _ in range(rng.choices((0, 1, 2, 3, 4), weights=(5, 15, 40, 25, 15))[0])
        ]
        return Article(
            title=item.title,
            excerpt=item.excerpt,
            published_at=item.published_at,
            web_url=item.web_url,
            amp_url=item.amp_url,
            type=item.type,
            provider=item.provider,
            quality=item.quality,
            images=self._images(item.provider, item.title, published_at, 1, 2),
            category=rng.choice(_CATEGORIES),
            heat=self._heat(),
            published=rng.random() >= DRAFT_SHARE,
            topics=self._topics(),
            related=related,
            secured=self._secured(),
        )

    def url_variant(self, source: Article) -> Article:
        """The same story fetched again under another address of the same page."""
        rng = self.rng
        url = source.web_url
        variant = rng.choice(_URL_VARIANTS)
        if variant == "utm":
            sep = "&" if "?" in url else "?"
            url += (
                f"{sep}utm_source={rng.choice(_UTM_SOURCES)}&utm_medium=social"
                f"&utm_campaign=c{rng.randrange(1000)}"
            )
        elif variant == "amp":
            url = source.amp_url or url + "?amp=1"
        elif variant == "http":
            url = "http://" + url.removeprefix("https://")
        elif variant == "www":
            host_start = url.index("://") + 3
            if url.startswith("www.", host_start):
                url = url[:host_start] + url[host_start + 4 :]
            else:
                url = url[:host_start] + "www." + url[host_start:]
        else:
            url = url.rstrip("/") if url.endswith("/") else url + "/"
        return replace(
            source,
            web_url=url,
            heat=self._heat(),
            published=rng.random() >= DRAFT_SHARE,
            secured=self._secured(),
        )

    def syndicated(self, source: Article) -> Article:
        """The same story republished by another provider within 48 hours."""
        rng = self.rng
        provider = rng.choice([p for p in self.providers if p != source.provider])
        title = source.title.removesuffix(f" - {source.provider.name}")
        if rng.random() < 0.4:
            title += f" - {provider.name}"
        published_at = min(self.end, source.published_at + rng.randrange(SYNDICATION_LAG_SECONDS))
        web_url = self._url(provider, title, published_at)
        return replace(
            source,
            title=title,
            excerpt=source.excerpt if rng.random() < 0.5 else self._excerpt(),
            published_at=published_at,
            web_url=web_url,
            amp_url=self._amp(web_url),
            provider=provider,
            quality=rng.randint(0, 100),
            images=self._images(provider, title, published_at, 0, 2),
            heat=self._heat(),
            published=rng.random() >= DRAFT_SHARE,
            related=[],
            secured=self._secured(),
        )

    def next_article(self, pick_source: Callable[[], Article | None]) -> tuple[Article, bool]:
        """An original, URL variant or syndicated copy, and whether it is an original.

        ``pick_source()`` gives an earlier article to copy, or None when there is none.
        """
        roll = self.rng.random()
        if roll < URL_VARIANT_SHARE + SYNDICATED_SHARE:
            source = pick_source()
            if source is not None:
                if roll < URL_VARIANT_SHARE:
                    return self.url_variant(source), False
                return self.syndicated(source), False
        return self.original(), True

    def file_name(self, index: int) -> str:
        return f"{index // FILES_PER_DIR:03d}/{index:06d}_{self.rng.getrandbits(64):016x}.txt"


def _end_epoch(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def generate(out_dir: Path, count: int, seed: int, end: str = DEFAULT_END) -> None:
    """Write ``count`` articles under ``out_dir`` (see the module docstring)."""
    if any(out_dir.rglob("*.txt")):
        raise SystemExit(f"{out_dir} already holds articles; use --mutate to change them")
    gen = Generator(seed, _end_epoch(end))
    # Copies are made of recent originals only: duplicates arrive close together in
    # a real dump, and a bounded pool keeps memory flat for big corpora.
    recent: list[Article] = []

    def pick_source() -> Article | None:
        return gen.rng.choice(recent) if recent else None

    made_dirs: set[Path] = set()
    for index in range(count):
        article, is_original = gen.next_article(pick_source)
        path = out_dir / gen.file_name(index)
        if path.parent not in made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            made_dirs.add(path.parent)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(render(article))
        if is_original:
            recent.append(article)
            if len(recent) > RECENT_POOL:
                recent.pop(0)


def _replace_file(path: Path, text: str) -> None:
    """Replace ``path`` atomically and make its mtime at least 1 s newer."""
    old_mtime = path.stat().st_mtime_ns
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8", newline="\n")
    os.replace(tmp, path)
    mtime = max(time.time_ns(), old_mtime + 1_000_000_000)
    os.utime(path, ns=(mtime, mtime))


def mutate(out_dir: Path, fraction: float, seed: int, end: str = DEFAULT_END) -> tuple[int, int]:
    """Edit and add articles in place (see the module docstring); return
    (edited, added)."""
    files = sorted(out_dir.rglob("*.txt"))
    if not files:
        raise SystemExit(f"{out_dir} holds no articles to mutate")
    total = round(fraction * len(files))
    edits, additions = total // 2, total - total // 2
    gen = Generator(seed, _end_epoch(end))
    rng = gen.rng

    for path in sorted(rng.sample(files, edits)):
        text = path.read_text(encoding="utf-8")
        match = _HEAT_LINE.search(text)
        assert match is not None
        heat = (int(match.group(1)) + rng.randint(1, 100)) % 101
        text = f"{text[: match.start()]}heat: {heat}{text[match.end() :]}"
        if rng.random() < 0.3:  # a new headline, or the old one marked as updated
            match = _TITLE_LINE.search(text)
            assert match is not None
            title = _q(gen._title()) if rng.random() < 0.5 else f'"{match.group(1)} [Updated]"'
            text = f"{text[: match.start()]}title: {title}{text[match.end() :]}"
        if rng.random() < 0.5:
            text = _DRAFT_LINE.sub("published: true", text, count=1)
        _replace_file(path, text)

    def pick_source() -> Article:
        return parse(rng.choice(files).read_text(encoding="utf-8"))

    next_index = 1 + max(int(m.group(1)) for p in files if (m := _INDEX_NAME.match(p.name)))
    for index in range(next_index, next_index + additions):
        article, _ = gen.next_article(pick_source)
        path = out_dir / gen.file_name(index)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(render(article), encoding="utf-8", newline="\n")
        os.replace(tmp, path)
    return edits, additions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--count", type=int, help="write this many new articles")
    mode.add_argument(
        "--mutate",
        type=float,
        metavar="FRACTION",
        help="edit FRACTION/2 of the articles and add as many",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--end", default=DEFAULT_END, help=f"latest publication time, UTC (default {DEFAULT_END})"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.count is not None:
        generate(args.out_dir, args.count, args.seed, args.end)
        done = f"wrote {args.count} articles"
    else:
        edited, added = mutate(args.out_dir, args.mutate, args.seed, args.end)
        done = f"edited {edited} and added {added} articles"
    print(f"{done} in {args.out_dir} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
