"""Free-text themes for survey reports (METHODS.md section 3).

Pure functions over plain data: TF-IDF + NMF topics for 50 or more text answers, keywords
only below that. Only aggregate terms and respondent counts leave this module, never the
texts themselves, and only when at least ``min_cell_size`` distinct respondents support them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer

__all__ = [
    "DOMAIN_STOP_WORDS",
    "MIN_TEXTS_FOR_THEMES",
    "Theme",
    "ThemeResult",
    "extract_themes",
]

# Below this many text answers, topics are too unstable to name: keywords only (METHODS.md).
MIN_TEXTS_FOR_THEMES = 50

# Words that every answer in a diabetes survey shares (so they carry no theme) and filler that
# the English list misses. Apostrophes are stripped before tokenising, so "I'm" becomes "im".
DOMAIN_STOP_WORDS = frozenset(
    {
        "diabetes",
        "diabetic",
        "diabetics",
        "just",
        "really",
        "like",
        "get",
        "got",
        "getting",
        "im",
        "ive",
        "id",
        "dont",
        "doesnt",
        "didnt",
        "cant",
        "wont",
        "isnt",
        "thats",
        "things",
        "thing",
        "lot",
        "also",
        "would",
        "could",
        "want",
        "know",
    }
)
_STOP_WORDS = sorted(ENGLISH_STOP_WORDS | DOMAIN_STOP_WORDS)

# A token starts with a letter and has at least two characters: drops bare numbers such as
# doses or ages (potentially identifying, never a theme) but keeps "hba1c" or "t1d".
_WORD_REGEX = r"(?u)\b[^\W\d_]\w+\b"
_APOSTROPHES = re.compile(r"['\u2019\u2018`]")

# Terms shown per theme (the label uses the first _LABEL_TERMS of them).
_MAX_TERMS = 5
_LABEL_TERMS = 3
_MAX_KEYWORDS = 20
# Texts per topic used to pick the number of topics (METHODS.md: n_texts // 25, 2 at least).
_TEXTS_PER_TOPIC = 25


@dataclass(frozen=True)
class Theme:
    """One published theme: a label from its top terms, the terms, and supporting respondents."""

    label: str
    terms: tuple[str, ...]
    respondents: int

    def as_dict(self) -> dict[str, object]:
        """Return the theme in the shape of the insights report (CONTRACTS.md)."""
        return {"label": self.label, "terms": list(self.terms), "respondents": self.respondents}


@dataclass(frozen=True)
class ThemeResult:
    """Outcome of ``extract_themes``.

    ``mode`` says what to show: "themes" (50 or more texts) or "keywords" (fewer). ``themes``
    is empty in keywords mode; ``keywords`` holds (term, respondents) pairs in both modes.
    Both are sorted by respondents, highest first, then alphabetically.
    """

    mode: Literal["themes", "keywords"]
    themes: tuple[Theme, ...]
    keywords: tuple[tuple[str, int], ...]
    n_texts: int


def _preprocess(text: str) -> str:
    # Join contractions ("I'm" -> "im") so the stop list can catch them.
    return _APOSTROPHES.sub("", text.lower())


def _vectorizer(vocabulary: Sequence[str] | None = None) -> TfidfVectorizer:
    return TfidfVectorizer(
        preprocessor=_preprocess,
        token_pattern=_WORD_REGEX,
        stop_words=_STOP_WORDS,
        vocabulary=vocabulary,
        # Long rants should not dominate a topic by repeating one word.
        sublinear_tf=True,
    )


def _respondents_per_term(
    texts: Sequence[tuple[Hashable, str]], analyze: Callable[[str], list[str]]
) -> dict[str, set[Hashable]]:
    supporters: dict[str, set[Hashable]] = {}
    for respondent, text in texts:
        for term in set(analyze(text)):
            supporters.setdefault(term, set()).add(respondent)
    return supporters


def _n_topics(n_texts: int, vocabulary_size: int, max_themes: int) -> int:
    return min(max_themes, max(2, n_texts // _TEXTS_PER_TOPIC), vocabulary_size)


def extract_themes(
    texts: Sequence[tuple[Hashable, str]],
    min_cell_size: int,
    max_themes: int = 8,
    seed: int = 0,
    *,
    max_keywords: int = _MAX_KEYWORDS,
) -> ThemeResult:
    """Find themes (or, under 50 texts, keywords) in free-text answers.

    ``texts`` is a sequence of ``(respondent_id, text)``; a respondent may appear more than
    once (several text questions) and is counted once per theme or keyword. Blank texts are
    ignored. Returns a ThemeResult with only terms and counts, never the texts.

    - Fewer than 50 non-blank texts: mode "keywords"; keywords used by at least
      ``min_cell_size`` distinct respondents, at most ``max_keywords`` of them.
    - Otherwise: mode "themes"; TF-IDF + NMF (init "nndsvda", random_state ``seed``) with
      min(max_themes, max(2, n_texts // 25)) topics, bounded by the vocabulary size. Each text
      counts toward the topic with the largest weight in its W row (rows with no known term
      count toward none). A theme is published only when at least ``min_cell_size`` distinct
      respondents support it.

    Deterministic: the same input and seed give the same result.
    """
    if min_cell_size < 0:
        raise ValueError("min_cell_size must not be negative")
    if max_themes < 1:
        raise ValueError("max_themes must be at least 1")

    answers = [(rid, text) for rid, text in texts if isinstance(text, str) and text.strip()]
    n_texts = len(answers)

    analyze = _vectorizer().build_analyzer()
    supporters = _respondents_per_term(answers, analyze)
    # Privacy: a term only leaves this module (as keyword, theme term or label) when at least
    # min_cell_size respondents used it, so a rare word (a name, a town, an unusual drug)
    # cannot point at one person. For themes this also removes terms too rare to shape a topic.
    common = {term: len(rids) for term, rids in supporters.items() if len(rids) >= min_cell_size}
    keywords = tuple(sorted(common.items(), key=lambda item: (-item[1], item[0]))[:max_keywords])

    if n_texts < MIN_TEXTS_FOR_THEMES:
        return ThemeResult(mode="keywords", themes=(), keywords=keywords, n_texts=n_texts)

    vocabulary = sorted(common)
    n_topics = _n_topics(n_texts, len(vocabulary), max_themes)
    if n_topics < 1:
        return ThemeResult(mode="themes", themes=(), keywords=keywords, n_texts=n_texts)

    matrix = _vectorizer(vocabulary).fit_transform([text for _, text in answers])
    model = NMF(n_components=n_topics, init="nndsvda", random_state=seed, max_iter=1000)
    with warnings.catch_warnings():
        # A not-fully-converged factorisation still ranks terms and assigns texts sensibly;
        # the warning would only be noise in the CLI output.
        warnings.simplefilter("ignore", ConvergenceWarning)
        # On degenerate input (e.g. one term, identical rows) the fit is exact and sklearn's
        # reconstruction error takes sqrt of a tiny negative rounding residue. That error is
        # only a diagnostic we never read; W and H are fine.
        warnings.filterwarnings(
            "ignore", message="invalid value encountered in sqrt", category=RuntimeWarning
        )
        weights = model.fit_transform(matrix)
    components = model.components_

    respondents_by_topic: list[set[Hashable]] = [set() for _ in range(n_topics)]
    for (rid, _), row in zip(answers, weights, strict=True):
        # A text with none of the common terms has an all-zero row: it supports no theme
        # rather than silently joining topic 0 via argmax.
        if row.max() <= 0:
            continue
        respondents_by_topic[int(np.argmax(row))].add(rid)

    themes: list[Theme] = []
    for topic, rids in enumerate(respondents_by_topic):
        if len(rids) < min_cell_size:
            continue
        loadings = components[topic]
        # Stable sort on -weight, then alphabetical via the sorted vocabulary, for determinism.
        order = np.argsort(-loadings, kind="stable")
        terms = tuple(vocabulary[i] for i in order[:_MAX_TERMS] if loadings[i] > 0)
        if not terms:
            continue
        label = " / ".join(terms[:_LABEL_TERMS])
        themes.append(Theme(label=label, terms=terms, respondents=len(rids)))

    themes.sort(key=lambda theme: (-theme.respondents, theme.label))
    return ThemeResult(mode="themes", themes=tuple(themes), keywords=keywords, n_texts=n_texts)
