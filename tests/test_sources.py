from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from aggregator import files, forking
from aggregator.errors import SourceError
from aggregator.files import find_article_files, read_file
from aggregator.sources import _Fields, parse_article, read_article
from aggregator.text import is_http_url
from tests.conftest import SECRET, WriteArticle, article_text, front_matter

REPO = Path(__file__).resolve().parent.parent
SEED = REPO / "articles" / "000_7d06b29650b3ea74.txt"


def parse(text: str) -> object:
    return parse_article(text.encode("utf-8"), "a.txt")


def reason(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    with pytest.raises(SourceError) as caught:
        parse_article(data, "articles/a.txt")
    assert caught.value.where == "articles/a.txt"
    return caught.value.reason


def test_seed_article_keeps_every_field() -> None:
    article = read_article(SEED, max_bytes=1_000_000)
    assert article.title.startswith("Amazon is banning cops")
    assert article.published == datetime(2020, 6, 15, 18, 3, tzinfo=UTC)
    assert article.url.startswith("https://www.mic.com/p/amazon")
    assert article.amp_url and article.amp_url.endswith("/amp")
    assert article.cdn_amp_url and "cdn.ampproject.org" in article.cdn_amp_url
    assert (article.category, article.type) == ("news", "article")
    assert (article.heat, article.quality, article.draft) == (42.0, 42.0, True)
    assert article.provider is not None and article.provider.domain == "mic.com"
    assert article.topics == ("AWS AI", "AI")
    assert article.images[0].width == 1200 and article.images[0].title
    assert [r.provider.name for r in article.related if r.provider] == ["Tech.co", "MSPoweruser"]
    assert article.related[0].published == datetime(2020, 6, 11, 19, 19, tzinfo=UTC)


def test_secured_never_enters_the_model() -> None:
    article = parse(article_text(front_matter()))
    assert SECRET not in repr(article)


def test_body_after_front_matter_is_kept() -> None:
    article = parse(article_text(front_matter(), body="\nFirst paragraph.\n\nSecond.\n"))
    assert article.body == "First paragraph.\n\nSecond."  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"title": None}, "title: required field is missing"),
        ({"webUrl": None}, "webUrl: required field is missing"),
        ({"publishedDateTime": None}, "publishedDateTime: required field is missing"),
        ({"webUrl": "/relative/path"}, "webUrl: expected an absolute http or https URL"),
        ({"webUrl": "javascript:alert(1)"}, "webUrl: expected an absolute http or https URL"),
        ({"publishedDateTime": "yesterday-ish"}, "publishedDateTime: expected a date and time"),
        ({"publishedDateTime": "2026-02-30T10:00:00Z"}, "publishedDateTime: expected a date"),
        ({"publishedDateTime": "10:30"}, "publishedDateTime: expected a date"),
        ({"publishedDateTime": "June 15 10:30"}, "publishedDateTime: expected a date"),
        ({"publishedDateTime": "2026-06 10:30"}, "publishedDateTime: expected a date"),
        ({"heat": "very"}, "heat: expected a number"),
        ({"heat": True}, "heat: expected a number"),
        ({"quality": float("nan")}, "quality: expected a finite number"),
        ({"heat": float("inf")}, "heat: expected a finite number"),
        ({"published": "perhaps"}, "published: expected true or false"),
        ({"topics": {"a": 1}}, "topics: expected a list of topic names"),
        ({"title": ["a", "list"]}, "title: expected text"),
        ({"images": [42]}, "images[0]: expected a mapping"),
        ({"provider": 7}, "provider: expected a mapping"),
    ],
)
def test_bad_fields_are_rejected_naming_the_field(fields: dict[str, object], expected: str) -> None:
    assert expected in reason(article_text(front_matter(**fields)))


def test_unambiguous_values_are_coerced() -> None:
    article = parse(
        article_text(
            front_matter(heat="42", quality=7, published="false", topics="Solo", title=2026)
        )
    )
    assert (article.heat, article.quality) == (42.0, 7.0)  # type: ignore[attr-defined]
    assert article.draft  # type: ignore[attr-defined]
    assert article.topics == ("Solo",)  # type: ignore[attr-defined]
    assert article.title == "2026"  # type: ignore[attr-defined]


def test_missing_scores_and_topics_default() -> None:
    article = parse(article_text(front_matter(heat=None, quality=None, topics=None)))
    assert (article.heat, article.quality, article.topics) == (0.0, 0.0, ())  # type: ignore[attr-defined]


def test_zoneless_time_is_utc_and_zones_are_converted() -> None:
    naive = parse(article_text(front_matter(publishedDateTime="2026-11-26 09:00")))
    zoned = parse(article_text(front_matter(publishedDateTime="2026-11-26T10:00:00+01:00")))
    expected = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    assert naive.published == zoned.published == expected  # type: ignore[attr-defined]


def test_a_text_date_means_the_same_time_whatever_day_it_is_read() -> None:
    article = parse(article_text(front_matter(publishedDateTime="15 June 2026 10:30")))
    assert article.published == datetime(2026, 6, 15, 10, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    article = parse(article_text(front_matter(publishedDateTime="June 15, 2026")))
    assert article.published == datetime(2026, 6, 15, tzinfo=UTC)  # type: ignore[attr-defined]


def test_unusable_optional_links_are_dropped_not_fatal() -> None:
    article = parse(
        article_text(
            front_matter(
                ampWebUrl="data:text/html,hi",
                images=[{"url": "javascript:x"}, {"url": "https://img.example.com/b.png"}],
            )
        )
    )
    assert article.amp_url is None  # type: ignore[attr-defined]
    assert [i.url for i in article.images] == ["https://img.example.com/b.png"]  # type: ignore[attr-defined]


def outcome(read: Callable[[], object]) -> object:
    """What a field read gives: its value, or the exception it raises."""
    try:
        return read()
    except SourceError as error:
        return type(error), str(error)


def reference_url(value: object, required: bool) -> object:
    """`_Fields.url` by its definition: a link with its whitespace stripped."""
    if value is None or value == "":
        if required:
            raise SourceError("a.txt", "u: required field is missing")
        return None
    link = value.strip() if isinstance(value, str) else value
    if isinstance(link, str) and is_http_url(link):
        return link
    if required:
        raise _Fields({}, "a.txt", "").fail("u", "an absolute http or https URL", link)
    return None


@given(
    st.none()
    | st.integers()
    | st.text(max_size=20)
    | st.sampled_from(
        ["https://a.example/x", " http://a.example ", "\u3000https://a.example/\n", "ftp://a"]
    ),
    st.booleans(),
)
@example("", True)
@example("  ", True)
def test_links_are_read_by_their_definition(value: object, required: bool) -> None:
    read = outcome(lambda: _Fields({"u": value}, "a.txt", "").url("u", required=required))
    assert read == outcome(lambda: reference_url(value, required))


def reference_integer(value: object) -> object:
    """`_Fields.integer` by its definition: a whole number of 0 or more, as a float
    holds it (so 2**53 + 1 reads 2**53)."""
    if value is None or value == "":
        return None
    number = _Fields({"n": value}, "a.txt", "").number("n")
    if not number.is_integer() or number < 0:
        raise _Fields({}, "a.txt", "").fail("n", "a whole number of 0 or more", value)
    return int(number)


@given(
    st.integers()
    | st.integers(2**53 - 2, 2**53 + 2)
    | st.sampled_from([True, False, 1.0, 1.5, -0.0, "7", " 8 ", "x", 10**400])
)
def test_sizes_are_read_by_their_definition(value: object) -> None:
    read = outcome(lambda: _Fields({"n": value}, "a.txt", "").integer("n"))
    assert read == outcome(lambda: reference_integer(value))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "file is empty"),
        (b" \t\r\n\x0b\x0c", "file is empty"),
        (b"\x1c", "expected the file to start with a '---' line"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not UTF-8"),
        ("---\ntitle: caf\xe9\n---\n".encode("latin-1"), "not UTF-8 text (bad byte at offset"),
        (b"---\ntitle: a\x00b\n---\n", "binary file"),
        (b"title: no front matter\n", "expected the file to start with a '---' line"),
        (b"---\ntitle: never closed\n", "front matter is never closed"),
        (b"---\ntitle: [unclosed\n---\n", "invalid YAML at line"),
        (b"---\n- a\n- list\n---\n", "front matter is a list, expected a mapping"),
        (b"---\n---\n", "front matter is empty"),
        (b"---\ntitle: a\ntitle: b\n---\n", "duplicate key 'title'"),
        (b"---\ntitle: !!python/object/apply:os.system ['true']\n---\n", "invalid YAML"),
        (b"---\na: &x [1]\nb: *x\n---\n", "aliases (*name) are not allowed"),
        (b"---\npublishedDateTime: 2026-02-30\n---\n", "invalid YAML: day is out of range"),
        (b"---\nx: 2026-01-01T10:00:60Z\n---\n", "invalid YAML: second must be in 0..59"),
    ],
)
def test_unreadable_files_get_a_clear_reason(data: bytes, expected: str) -> None:
    assert expected in reason(data)


def test_a_number_too_large_for_a_float_is_refused_with_its_field() -> None:
    # PyYAML reads the digits as an integer; no float holds it.
    assert "heat: expected a finite number" in reason(article_text(front_matter(heat=10**400)))


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ["---", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, 10):
        ref = ",".join([f"*{chr(96 + index)}"] * 9)
        lines.append(f"{chr(97 + index)}: &{chr(97 + index)} [{ref}]")
    lines.append("---")
    assert "aliases" in reason("\n".join(lines) + "\n")


def test_deep_nesting_is_rejected_not_crashing() -> None:
    assert "invalid YAML" in reason("---\ntitle: " + "[" * 20000 + "]" * 20000 + "\n---\n")


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_bom_and_crlf_are_accepted(newline: str) -> None:
    text = article_text(front_matter()).replace("\n", newline)
    article = parse_article(b"\xef\xbb\xbf" + text.encode("utf-8"), "a.txt")
    assert article.title == "Regulators approve new battery factory"


def test_control_characters_and_whitespace_are_cleaned() -> None:
    article = parse(article_text(front_matter(title="Bad\x01 title\n  here", excerpt="x\x0by")))
    assert article.title == "Bad title here"  # type: ignore[attr-defined]
    assert article.excerpt == "xy"  # type: ignore[attr-defined]


def test_enormous_text_is_shortened() -> None:
    article = parse(article_text(front_matter(title="word " * 1000, excerpt="x" * 50_000)))
    assert len(article.title) <= 300 and article.title.endswith("…")  # type: ignore[attr-defined]
    assert len(article.excerpt) <= 2000  # type: ignore[attr-defined]


def test_files_over_the_size_cap_are_not_read(write_article: WriteArticle) -> None:
    path = write_article("big.txt", body="x" * 5000)
    with pytest.raises(SourceError, match="over the 1000-byte limit"):
        read_article(path, max_bytes=1000)


@pytest.mark.parametrize("told", [0, 1, 99_999])
def test_a_file_is_read_whole_whatever_size_it_had_when_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, told: int
) -> None:
    """The size fstat gives only decides how much is asked for first: a file
    that grew since (here: that says it is smaller) is read to its end, in
    steps, and one grown over the limit is refused."""
    path = tmp_path / "growing.txt"
    data = bytes(range(256)) * 1000  # several read steps
    path.write_bytes(data)
    real = os.fstat

    def smaller(handle: int) -> os.stat_result:
        status = list(real(handle))
        status[6] = told  # st_size
        return os.stat_result(status)

    monkeypatch.setattr(os, "fstat", smaller)
    assert len(data) > files._READ_STEP
    assert read_file(path, max_bytes=len(data)).data == data
    with pytest.raises(SourceError, match=f"over the {len(data) - 1}-byte limit"):
        read_file(path, max_bytes=len(data) - 1)


def test_find_reads_only_article_suffixes_recursively(corpus: Path) -> None:
    for name in ("a.txt", "b.md", "c.markdown", "d.yaml", "e.yml", "sub/f.TXT", "g.json", "h"):
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text("x")
    (corpus / "dir.txt").mkdir()
    found = find_article_files([corpus])
    names = [p.relative_to(corpus).as_posix() for p in found.paths]
    assert names == ["a.txt", "b.md", "c.markdown", "d.yaml", "e.yml", "sub/f.TXT"]


def test_symlinks_outside_dangling_and_looping_are_rejected(
    corpus: Path, tmp_path: Path, write_article: WriteArticle
) -> None:
    write_article("real.txt")
    outside = tmp_path / "outside.txt"
    outside.write_text(article_text(front_matter()))
    os.symlink(outside, corpus / "escape.txt")
    os.symlink(corpus / "missing.txt", corpus / "dangling.txt")
    os.symlink(corpus / "loop2.txt", corpus / "loop1.txt")
    os.symlink(corpus / "loop1.txt", corpus / "loop2.txt")
    os.symlink(corpus / "real.txt", corpus / "alias.txt")
    os.symlink(corpus, corpus / "subdir-loop")
    found = find_article_files([corpus])
    assert sorted(p.name for p in found.paths) == ["alias.txt", "real.txt"]
    reasons = {Path(r.path).name: r.reason for r in found.rejected}
    assert "outside the source directory" in reasons["escape.txt"]
    assert "does not exist" in reasons["dangling.txt"]
    assert "loop" in reasons["loop1.txt"]


def test_missing_source_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="source directory does not exist"):
        find_article_files([tmp_path / "nope"])


def test_special_files_are_rejected_without_hanging(corpus: Path) -> None:
    os.mkfifo(corpus / "pipe.txt")  # opening a FIFO for reading would block forever
    with pytest.raises(SourceError, match="not a regular file"):
        read_article(corpus / "pipe.txt", max_bytes=1000)


def test_unreadable_file_is_rejected_with_the_systems_reason(
    write_article: WriteArticle, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_article("locked.txt")

    def refuse(name: object, *args: object, **kwargs: object) -> object:
        raise PermissionError(13, "Permission denied", str(name))

    # Root reads any file whatever its mode, so the refusal is simulated.
    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(SourceError, match="cannot read: Permission denied"):
        read_article(path, max_bytes=10_000)


def test_find_reports_size_and_time_of_what_each_path_leads_to(
    corpus: Path, write_article: WriteArticle
) -> None:
    real = write_article("real.txt")
    os.symlink(real, corpus / "alias.txt")
    found = find_article_files([corpus])
    status = real.stat()
    assert [p.name for p in found.paths] == ["alias.txt", "real.txt"]
    assert found.stamps == ((status.st_size, status.st_mtime_ns),) * 2


def _copies_started(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The works `forking.Copies.start` is given from now on (still started)."""
    started: list[object] = []
    start = forking.Copies.start

    def recording(self: forking.Copies, work: Callable[[], object]) -> object:
        started.append(work)
        return start(self, work)

    monkeypatch.setattr(forking.Copies, "start", recording)
    return started


def test_stamps_taken_with_a_copy_are_those_taken_here(
    corpus: Path, write_article: WriteArticle, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(9):  # each file a size of its own: a stamp out of place shows
        write_article(f"sub{number % 2}/{number}.txt", excerpt="x" * number)
    os.symlink(corpus / "sub1" / "7.txt", corpus / "sub1" / "alias.txt")
    alone = find_article_files([corpus], jobs=1)
    monkeypatch.setattr(files, "STAMPS_ELSEWHERE_FROM", 2)
    started = _copies_started(monkeypatch)
    assert find_article_files([corpus], jobs=1) == alone
    assert started == []
    shared = find_article_files([corpus], jobs=2)
    assert len(started) == 1
    assert shared == alone
    assert len(set(shared.stamps)) == 9  # (the link and its file share one)


def test_a_file_gone_before_its_stamp_has_none_in_either_half(
    corpus: Path, write_article: WriteArticle, monkeypatch: pytest.MonkeyPatch
) -> None:
    here, there = str(write_article("here.txt")), str(write_article("there.txt"))
    names = [str(corpus / "gone.txt"), here, str(corpus / "gone too.txt"), there]
    monkeypatch.setattr(files, "STAMPS_ELSEWHERE_FROM", 2)
    started = _copies_started(monkeypatch)
    stamps = files._stamps(names, 0)
    assert len(started) == (forking.available_cores() > 1)
    status = os.stat(here)
    assert stamps[:2] == (None, (status.st_size, status.st_mtime_ns))
    assert stamps[2] is None
    assert stamps[3] == (os.stat(there).st_size, os.stat(there).st_mtime_ns)


def test_names_are_spelt_as_paths_are(
    corpus: Path, write_article: WriteArticle, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_article("sub/a.txt")
    monkeypatch.chdir(corpus)
    found = find_article_files([Path(".")])
    assert found.names == ("sub/a.txt",)
    assert found.names == tuple(str(p) for p in found.paths)
