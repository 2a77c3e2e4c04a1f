"""What a column of strings (or of mixed Python objects) holds: numbers, dates, words, free text.

A CSV has no types: dask and pyarrow read a column of dates, of ``"1,000"`` amounts or of numbers mixed with
words as strings, the same as a pandas object column in memory. The evidence below is counted per partition
on the partition's distinct values (each weighted by its rows), so it merges by summing, like every other
statistic of the one pass, and the same column gives the same answer from a file or from memory.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PROBE = 1_000  # distinct values classified per chunk (all of them when a chunk has fewer)

# A number as people write it: optional sign, digits with or without thousand separators, decimals, exponent.
_PLAIN = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_GROUPED = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_UNITS = re.compile(r"(?<=^[+-])\s*[$€£¥]\s*|^[$€£¥]\s*|\s*%$")  # "$1,200", "-€5", "12.5 %": numbers all the same
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AaPp][Mm])?(?:Z|[+-]\d{2}:?\d{2})?)?"
_DATE = re.compile(
    r"(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"  # 2024-03-01, 2024/3/1
    r"|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"  # 01/03/2024, 1.3.24
    rf"|\d{{1,2}}[ -]{_MONTH}[ -,]*\d{{2,4}}"  # 1 March 2024, 01-Mar-24
    rf"|{_MONTH}\s+\d{{1,2}},?\s+\d{{4}})" + _TIME,  # March 1, 2024
    re.IGNORECASE,
)
_LETTER = re.compile(r"[^\W\d_]")
TEXT_WORDS = 3  # a value of this many words or more reads as a sentence, not a label


@dataclass
class ContentEvidence:
    """Rows (of those probed) whose value reads as each thing; all counts, so partitions merge by summing."""

    probed: int = 0  # rows whose value was classified
    numbers: int = 0  # Python numbers, or strings that read as a number
    number_strings: int = 0  # strings that read as a number ("12.5", "1,000")
    grouped: int = 0  # ... written with thousand separators ("1,000")
    ungrouped: int = 0  # ... of 1,000 or more written without them ("1244")
    integers: int = 0  # ... plain integers ("00123", "42")
    dates: int = 0  # strings that parse as a date
    words: int = 0  # strings with letters that are neither numbers nor dates
    sentences: int = 0  # ... of TEXT_WORDS words or more
    word_count: int = 0  # words in all probed strings, for the mean
    date_min: int | None = None  # nanoseconds since the epoch, of the values parsed as dates
    date_max: int | None = None
    date_range_exact: bool = True  # False when the range is of the probed values only
    examples: dict[str, str] = field(default_factory=dict)  # one value of each sort, for the messages

    def merge(self, other: ContentEvidence) -> ContentEvidence:
        counts = {name: getattr(self, name) + getattr(other, name) for name in _COUNTS}
        lows = [v for v in (self.date_min, other.date_min) if v is not None]
        highs = [v for v in (self.date_max, other.date_max) if v is not None]
        return ContentEvidence(
            **counts,
            date_min=min(lows) if lows else None,
            date_max=max(highs) if highs else None,
            date_range_exact=self.date_range_exact and other.date_range_exact,
            examples={**other.examples, **self.examples},
        )

    def share(self, count: int) -> float:
        return count / self.probed if self.probed else 0.0


_COUNTS = ("probed", "numbers", "number_strings", "grouped", "ungrouped", "integers", "dates", "words", "sentences", "word_count")


def _probe(uniques: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All distinct values, or the most frequent ones (a placeholder like "unknown" among numbers) and a spread
    of the rest (the chunk's order, not its head)."""
    if len(uniques) <= PROBE:
        return uniques, counts
    frequent = np.argpartition(counts, -PROBE // 4)[-PROBE // 4 :]
    spread = np.linspace(0, len(uniques) - 1, PROBE - PROBE // 4).astype(np.int64)
    picks = np.union1d(frequent, spread)
    return uniques[picks], counts[picks]


def _example(evidence: ContentEvidence, sort: str, value: str) -> None:
    evidence.examples.setdefault(sort, value[:40])


def _utc_naive(parsed: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return parsed.tz_convert("UTC").tz_localize(None) if getattr(parsed, "tz", None) is not None else parsed


def parse_dates(values: list[str]) -> tuple[pd.DatetimeIndex, str | None]:
    """Dates parsed in the one format that reads (nearly) all of them, day first if need be; else each as it comes."""
    from pandas.tseries.api import guess_datetime_format

    strings = pd.Index(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dayfirst in (False, True):
            form = guess_datetime_format(values[0], dayfirst=dayfirst)
            if form is None:
                continue
            parsed = pd.to_datetime(strings, errors="coerce", format=form, utc=True)
            if parsed.notna().mean() >= 0.9:
                return _utc_naive(parsed), form
        return _utc_naive(pd.to_datetime(strings, errors="coerce", format="mixed", utc=True)), None


def evidence_of(uniques: np.ndarray, counts: np.ndarray) -> ContentEvidence:
    """Classify a chunk's distinct non-missing values (``counts``: rows of each)."""
    evidence = ContentEvidence()
    values, weights = _probe(uniques, counts)
    date_like: list[tuple[str, int]] = []
    for value, rows in zip(values.tolist(), weights.tolist(), strict=True):
        rows = int(rows)
        evidence.probed += rows
        if isinstance(value, (bool, np.bool_)):
            continue  # True/False among strings: the value types say it, not the evidence
        if isinstance(value, (int, float, np.number)):
            evidence.numbers += rows
            _example(evidence, "number", str(value))
            continue
        if not isinstance(value, str):
            continue
        text = value.strip()
        core = _UNITS.sub("", text)
        if _PLAIN.fullmatch(core) or _GROUPED.fullmatch(core):
            evidence.numbers += rows
            evidence.number_strings += rows
            _example(evidence, "number", text)
            if "," in core:
                evidence.grouped += rows
                _example(evidence, "grouped", text)
            elif len(core.lstrip("+-").split(".")[0].split("e")[0].split("E")[0]) >= 4:
                evidence.ungrouped += rows
                _example(evidence, "ungrouped", text)
            if _INTEGER.fullmatch(core) and core == text:
                evidence.integers += rows
            continue
        if _DATE.fullmatch(text):
            date_like.append((text, rows))
            continue
        words = len(text.split())
        evidence.word_count += rows * words
        if _LETTER.search(text):
            evidence.words += rows
            _example(evidence, "word", text)
            if words >= TEXT_WORDS:
                evidence.sentences += rows
    if date_like:
        parsed, form = parse_dates([t for t, _ in date_like])
        for (text, rows), when in zip(date_like, parsed, strict=True):
            if pd.isna(when):
                evidence.words += rows  # date-shaped but not a date ("31/31/2020"): a word, for this purpose
                continue
            evidence.dates += rows
            _example(evidence, "date", text)
        good = parsed[parsed.notna()]
        if len(good):
            nanos = good.asi8
            evidence.date_min, evidence.date_max = int(nanos.min()), int(nanos.max())
            if len(uniques) > PROBE and evidence.share(evidence.dates) >= 0.5:
                evidence.date_range_exact = _all_dates(uniques, form, evidence)
    return evidence


ALL_DATES_PARSED = 20_000  # distinct values of other than ISO dates parsed for the range (about 7 us each)


def _all_dates(uniques: np.ndarray, form: str | None, evidence: ContentEvidence) -> bool:
    """The exact date range of a date column with more distinct values than were probed: all of them parsed in
    the probe's format when that is cheap (ISO 8601, or not too many); else the probe's range stands (False)."""
    if form is None or (not form.startswith("%Y-%m-%d") and len(uniques) > ALL_DATES_PARSED):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = _utc_naive(pd.to_datetime(pd.Index(uniques).astype(str), errors="coerce", format=form, utc=True))
    nanos = parsed[parsed.notna()].asi8
    if nanos.size:
        evidence.date_min = min(int(nanos.min()), evidence.date_min if evidence.date_min is not None else int(nanos.min()))
        evidence.date_max = max(int(nanos.max()), evidence.date_max if evidence.date_max is not None else int(nanos.max()))
    return True


# --- the verdict ---------------------------------------------------------------------------------------------
DATE_SHARE = 0.9  # of values that must parse as dates for a column to be dates
NUMBER_SHARE = 0.9
SENTENCE_SHARE = 0.5
TEXT_MIN_DISTINCT = 50  # free text is varied: a few repeated sentences are categories


def verdict(evidence: ContentEvidence, distinct: int, count: int) -> dict[str, Any]:
    """The column's content ("date", "number", "mixed", "text" or "category") with what shows it."""
    e = evidence
    found: dict[str, Any] = {"content": "category"}
    if not e.probed:
        return found
    shares = {
        "numbers": round(e.share(e.numbers), 4),
        "dates": round(e.share(e.dates), 4),
        "words": round(e.share(e.words), 4),
        "sentences": round(e.share(e.sentences), 4),
    }
    found.update(shares=shares, examples=dict(e.examples), mean_words=round(e.word_count / e.probed, 2))
    if e.numbers and e.words:
        found["content"] = "mixed"
    elif e.share(e.dates) >= DATE_SHARE:
        found["content"] = "date"
        if e.date_min is not None and e.date_max is not None:
            found.update(date_min=pd.Timestamp(e.date_min).isoformat(), date_max=pd.Timestamp(e.date_max).isoformat())
            found["date_range_exact"] = e.date_range_exact
    elif e.number_strings and e.share(e.numbers) >= NUMBER_SHARE:
        found["content"] = "number"
        found["integers"] = e.integers == e.numbers
        found["inconsistent_format"] = bool(e.grouped and e.ungrouped)
    elif e.share(e.sentences) >= SENTENCE_SHARE and (distinct > TEXT_MIN_DISTINCT or distinct >= count / 2):
        found["content"] = "text"
    return found
