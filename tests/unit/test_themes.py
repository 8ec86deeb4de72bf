"""Tests for surveys.themes: topic recovery, support thresholds, keywords mode, no verbatims."""

from __future__ import annotations

import json
import random
from dataclasses import asdict

import pytest

from surveys.themes import MIN_TEXTS_FOR_THEMES, Theme, ThemeResult, extract_themes

TOPICS = {
    "night": ["night", "hypo", "sleep", "alarm", "wake", "lows", "bedtime", "waking"],
    "food": ["carbs", "meal", "counting", "restaurant", "portion", "eating", "menu", "snacks"],
    "work": ["work", "boss", "colleagues", "office", "meetings", "shift", "employer", "job"],
}
# Shared by every topic, plus stop words that must never surface.
FILLER = ["day", "time", "hard", "sometimes", "feel", "worry"]
STOP = ["I", "really", "just", "the", "my", "diabetes", "I'm", "and", "like"]
SMALL_TOPIC = ["passport", "airport", "travel", "customs", "flight", "luggage"]


def _text(rng: random.Random, words: list[str]) -> str:
    tokens = rng.sample(words, 5) + rng.sample(FILLER, 2) + rng.sample(STOP, 3)
    rng.shuffle(tokens)
    return " ".join(tokens)


def _corpus(per_topic: int = 40, seed: int = 3) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Return (respondent, text) pairs and each respondent's true topic."""
    rng = random.Random(seed)
    texts, truth = [], {}
    for topic, words in TOPICS.items():
        for i in range(per_topic):
            rid = f"{topic}-{i}"
            texts.append((rid, _text(rng, words)))
            truth[rid] = topic
    return texts, truth


def _topic_of(theme: Theme) -> str | None:
    """The true topic whose words make up most of the theme's label, if any."""
    label_terms = theme.label.split(" / ")
    for topic, words in TOPICS.items():
        if sum(term in words for term in label_terms) >= 2:
            return topic
    return None


def _all_output_strings(result: ThemeResult) -> list[str]:
    strings = [theme.label for theme in result.themes]
    strings += [term for theme in result.themes for term in theme.terms]
    strings += [term for term, _ in result.keywords]
    return strings


def test_recovers_three_clear_topics_with_exact_respondent_counts():
    texts, _ = _corpus()
    result = extract_themes(texts, min_cell_size=11, max_themes=3)
    assert result.mode == "themes"
    assert result.n_texts == 120
    assert len(result.themes) == 3
    assert sorted(_topic_of(theme) for theme in result.themes) == sorted(TOPICS)
    for theme in result.themes:
        topic_words = TOPICS[_topic_of(theme)]
        assert 3 <= len(theme.terms) <= 5
        assert theme.label == " / ".join(theme.terms[:3])
        assert all(term in topic_words for term in theme.terms[:3])
        # Each synthetic respondent wrote about exactly one topic, 40 per topic.
        assert theme.respondents == 40


def test_default_topic_count_keeps_themes_pure_and_supported():
    texts, _ = _corpus()
    result = extract_themes(texts, min_cell_size=11)
    assert result.mode == "themes"
    # 120 texts -> min(8, max(2, 120 // 25)) = 4 topics at most.
    assert 3 <= len(result.themes) <= 4
    found = {_topic_of(theme) for theme in result.themes} - {None}
    assert found == set(TOPICS)
    assert all(theme.respondents >= 11 for theme in result.themes)
    # One text per respondent: a respondent supports at most one theme.
    assert sum(theme.respondents for theme in result.themes) <= 120
    respondents = [theme.respondents for theme in result.themes]
    assert respondents == sorted(respondents, reverse=True)


def test_small_support_topic_is_not_published():
    texts, _ = _corpus()
    rng = random.Random(11)
    texts += [(f"travel-{i}", _text(rng, SMALL_TOPIC)) for i in range(8)]
    result = extract_themes(texts, min_cell_size=11)
    assert result.mode == "themes"
    outputs = _all_output_strings(result)
    assert not any(word in term for term in outputs for word in SMALL_TOPIC)
    assert {_topic_of(theme) for theme in result.themes} - {None} == set(TOPICS)


@pytest.mark.parametrize("min_cell_size", [5, 11, 20, 30])
def test_every_published_theme_and_keyword_meets_the_threshold(min_cell_size):
    texts, _ = _corpus(per_topic=50, seed=5)
    result = extract_themes(texts, min_cell_size=min_cell_size, max_themes=8)
    assert result.mode == "themes"
    assert all(theme.respondents >= min_cell_size for theme in result.themes)
    assert all(count >= min_cell_size for _, count in result.keywords)


def test_themes_count_distinct_respondents():
    # Every respondent answers two text questions on the same topic: counts must not double.
    texts, _ = _corpus()
    rng = random.Random(8)
    doubled = texts + [(rid, _text(rng, TOPICS[rid.split("-")[0]])) for rid, _ in texts]
    result = extract_themes(doubled, min_cell_size=11, max_themes=3)
    assert len(result.themes) == 3
    assert all(theme.respondents <= 40 for theme in result.themes)
    assert sum(theme.respondents for theme in result.themes) >= 110


def test_under_fifty_texts_gives_keywords_only():
    texts, _ = _corpus()
    few = [item for item in texts if item[0].startswith("night")][:30]
    few += [(f"food-x{i}", "carbs and counting") for i in range(MIN_TEXTS_FOR_THEMES - 31)]
    assert len(few) == MIN_TEXTS_FOR_THEMES - 1
    result = extract_themes(few, min_cell_size=11)
    assert result.mode == "keywords"
    assert result.themes == ()
    keywords = dict(result.keywords)
    assert keywords["carbs"] == 19
    assert keywords["counting"] == 19
    assert "hypo" in keywords
    assert all(count >= 11 for count in keywords.values())
    # Stop words (English and domain) never become keywords.
    assert not {"diabetes", "really", "just", "like", "im", "the"} & set(keywords)
    counts = [count for _, count in result.keywords]
    assert counts == sorted(counts, reverse=True)


def test_keywords_count_each_respondent_once():
    texts = [(f"r{i}", "pump site itches") for i in range(10)]
    texts += [("r0", "pump again, pump pump"), ("r1", "my pump")]
    texts += [(f"s{i}", "cgm sensor fell off") for i in range(11)]
    result = extract_themes(texts, min_cell_size=11)
    keywords = dict(result.keywords)
    assert "pump" not in keywords  # 10 distinct respondents, however often they say it
    assert keywords["cgm"] == 11
    assert keywords["sensor"] == 11


def test_keywords_below_threshold_are_dropped():
    texts = [(f"r{i}", f"insulin pen {'cap' if i < 5 else 'needle'}") for i in range(20)]
    result = extract_themes(texts, min_cell_size=11)
    keywords = dict(result.keywords)
    assert keywords == {"insulin": 20, "pen": 20, "needle": 15}


def test_no_verbatim_text_or_respondent_id_in_output():
    texts, _ = _corpus()
    secret = "my neighbour Margaret Smith at 12 Elm Road keeps my spare insulin"
    texts.append(("resp-secret-001", secret))
    for min_cell_size in (1, 11):
        for result in (
            extract_themes(texts, min_cell_size=min_cell_size),
            extract_themes(texts[:20] + [texts[-1]], min_cell_size=min_cell_size),
        ):
            dumped = json.dumps(asdict(result))
            for rid, text in texts:
                assert text not in dumped
                assert rid not in dumped
            # Every published string is a single term or a label made of terms.
            for term in _all_output_strings(result):
                assert " " not in term.replace(" / ", "/")
    # With the real threshold, one respondent's rare words never surface.
    result = extract_themes(texts, min_cell_size=11)
    for rare in ("margaret", "smith", "elm", "neighbour"):
        assert all(rare not in s for s in _all_output_strings(result))


def test_empty_and_blank_input():
    for texts in ([], [("a", ""), ("b", "   ")]):
        result = extract_themes(texts, min_cell_size=11)
        assert result == ThemeResult(mode="keywords", themes=(), keywords=(), n_texts=0)


def test_tiny_vocabularies_do_not_crash():
    # One usable term: a single theme.
    one_term = [(f"r{i}", "pump, the pump!") for i in range(60)]
    result = extract_themes(one_term, min_cell_size=11)
    assert result.mode == "themes"
    assert [(t.label, t.terms, t.respondents) for t in result.themes] == [("pump", ("pump",), 60)]

    # Only stop words or numbers: nothing to publish, still themes mode.
    stop_only = [(f"r{i}", "I'm really just like the 42") for i in range(60)]
    result = extract_themes(stop_only, min_cell_size=11)
    assert result.mode == "themes"
    assert result.themes == () and result.keywords == ()

    # Every word unique to one respondent: nothing reaches the threshold.
    unique = [(f"r{i}", f"word{chr(97 + i % 26)}{i}") for i in range(60)]
    result = extract_themes(unique, min_cell_size=11)
    assert result.themes == () and result.keywords == ()


def test_deterministic():
    texts, _ = _corpus(seed=9)
    assert extract_themes(texts, 11) == extract_themes(texts, 11)
    assert extract_themes(texts, 11, seed=4) == extract_themes(list(texts), 11, seed=4)


def test_theme_as_dict_matches_contract():
    texts, _ = _corpus()
    theme = extract_themes(texts, 11, max_themes=3).themes[0]
    as_dict = theme.as_dict()
    assert set(as_dict) == {"label", "terms", "respondents"}
    assert isinstance(as_dict["terms"], list)
    json.dumps(as_dict)


def test_rejects_bad_parameters():
    with pytest.raises(ValueError):
        extract_themes([], min_cell_size=-1)
    with pytest.raises(ValueError):
        extract_themes([], min_cell_size=11, max_themes=0)
