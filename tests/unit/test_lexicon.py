"""Unit tests for the adverse-event lexicon (challenge.safety.lexicon)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from challenge.safety.lexicon import (
    DEFAULT_EVENTS,
    DEFAULT_PRODUCTS,
    Lexicon,
    Match,
    build_lexicon,
    business_days_overdue,
    default_lexicon,
    excerpt,
    match,
    parse_terms,
    reporting_deadline,
)

LEX = default_lexicon()


def find(text: str, lexicon: Lexicon = LEX) -> Match:
    return match(lexicon, text)


# ---------------------------------------------------------------------------------------
# Default lists
# ---------------------------------------------------------------------------------------


def test_default_lists_are_lowercase_unique_tuples():
    for terms in (DEFAULT_PRODUCTS, DEFAULT_EVENTS):
        assert isinstance(terms, tuple)
        assert len(terms) == len(set(terms))
        for term in terms:
            assert term == term.strip().casefold()
            assert "  " not in term


@pytest.mark.parametrize(
    "term",
    [
        "lantus", "toujeo", "levemir", "tresiba", "basaglar", "humalog", "novolog",
        "novorapid", "apidra", "fiasp", "lyumjev", "admelog", "humulin", "novolin",
        "semglee", "insulin glargine", "insulin lispro", "insulin aspart", "insulin detemir",
        "insulin degludec", "insulin glulisine", "insulin", "metformin", "glucophage",
        "glumetza", "fortamet", "riomet", "glipizide", "glucotrol", "glyburide",
        "glibenclamide", "glimepiride", "amaryl", "gliclazide", "sitagliptin", "januvia",
        "janumet", "saxagliptin", "onglyza", "linagliptin", "tradjenta", "alogliptin",
        "empagliflozin", "jardiance", "dapagliflozin", "farxiga", "forxiga",
        "canagliflozin", "invokana", "ertugliflozin", "semaglutide", "ozempic", "rybelsus",
        "wegovy", "liraglutide", "victoza", "saxenda", "dulaglutide", "trulicity",
        "exenatide", "byetta", "bydureon", "lixisenatide", "adlyxin", "soliqua", "xultophy",
        "tirzepatide", "mounjaro", "zepbound", "pioglitazone", "actos", "rosiglitazone",
        "avandia", "acarbose", "repaglinide", "pramlintide", "symlin", "glucagon",
        "baqsimi", "gvoke",
    ],
)
def test_default_products_cover_the_common_medicines(term):
    assert term in DEFAULT_PRODUCTS
    assert find(f"I take {term} every day").products == (term,)


@pytest.mark.parametrize(
    "term",
    [
        "dizzy", "dizziness", "dizzyness", "dizzines", "nausea", "nauseous", "nausious",
        "nauseated", "vomit", "vomiting", "vomited", "threw up", "throwing up", "diarrhea",
        "diarrhoea", "diarhea", "rash", "itching", "itchy", "hives", "swelling", "swollen",
        "headache", "headaches", "hypo", "hypos", "hypoglycemia", "hypoglycaemia",
        "low blood sugar", "blood sugar crash", "fainted", "fainting", "passed out",
        "blacked out", "seizure", "pancreatitis", "ketoacidosis", "dka", "yeast infection",
        "thrush", "urinary tract infection", "uti", "weight gain", "hair loss",
        "blurred vision", "blurry vision", "shaking", "shaky", "sweating", "sweats",
        "palpitations", "chest pain", "stomach pain", "abdominal pain", "cramps",
        "constipation", "bloating", "fatigue", "tired", "exhausted", "allergic reaction",
        "anaphylaxis", "injection site reaction", "lump", "lipohypertrophy", "side effect",
        "side effects", "reaction", "made me sick", "hospitalized", "hospitalised",
        "er visit", "kidney problems", "gallstones",
    ],
)
def test_default_events_cover_the_listed_side_effects(term):
    assert term in DEFAULT_EVENTS
    assert find(f"since then: {term}.").events == (term,)


def test_default_lexicon_is_cached_and_equal_to_a_fresh_build():
    assert default_lexicon() is default_lexicon()
    fresh = build_lexicon()
    assert fresh == LEX
    assert fresh.products[0] == DEFAULT_PRODUCTS[0]
    assert len(set(fresh.products)) == len(fresh.products)
    assert len(set(fresh.events)) == len(fresh.events)
    # "side-effect" and "sideeffect" are the same term as "side effect": deduplicated.
    assert "side effect" in fresh.events
    assert "side-effect" not in fresh.events
    assert "sideeffect" not in fresh.events
    assert "head ache" not in fresh.events


# ---------------------------------------------------------------------------------------
# Realistic patient sentences
# ---------------------------------------------------------------------------------------

FLAGGED = [
    ("Since I switched to Lantus I wake up dizzy most mornings.", ["lantus"], ["dizzy"]),
    ("Ozempic gave me terrible nausea for the first three weeks.", ["ozempic"], ["nausea"]),
    (
        "The metformin makes me sick and I've had diarrhoea on and off for months",
        ["metformin"],
        ["makes me sick", "diarrhoea"],
    ),
    (
        "had a bad hypo at night after increasing my Tresiba dose, woke up sweating",
        ["tresiba"],
        ["hypo", "sweating"],
    ),
    (
        "My doctor put me on Jardiance and I got a yeast infection twice",
        ["jardiance"],
        ["yeast infection"],
    ),
    (
        "Trulicity: threw up after every injection, honestly not worth it",
        ["trulicity"],
        ["threw up"],
    ),
    (
        "I was hospitalised with pancreatitis 2 months after starting Victoza.",
        ["victoza"],
        ["hospitalised", "pancreatitis"],
    ),
    (
        "glipizide + low blood sugar = passed out at work",
        ["glipizide"],
        ["low blood sugar", "passed out"],
    ),
    (
        "insulin pens leave lumps (lipohypertrophy) where I inject",
        ["insulin"],
        ["lumps", "lipohypertrophy"],
    ),
    ("Mounjaro side-effects: constipation, bloating, fatigue", ["mounjaro"],
     ["side effects", "constipation", "bloating", "fatigue"]),
    ("Any1 else get DKA on Farxiga??", ["farxiga"], ["dka"]),
    (
        "I've been so tired and shaky since the Januvia was added to my metformin",
        ["januvia", "metformin"],
        ["tired", "shaky"],
    ),
    (
        "Switched from Humalog to Fiasp, and the injection site reaction stopped but my "
        "headaches did not",
        ["humalog", "fiasp"],
        ["injection site reaction", "headaches"],
    ),
    ("ER visit last year: seizure from a hypo, my husband used Baqsimi", ["baqsimi"],
     ["er visit", "seizure", "hypo"]),
]


@pytest.mark.parametrize(("text", "products", "events"), FLAGGED)
def test_realistic_sentences_are_flagged(text, products, events):
    found = find(text)
    assert found.products == tuple(products)
    assert found.events == tuple(events)
    assert found.flagged is True


NOT_FLAGGED = [
    # product without event
    ("I take Lantus at night and Humalog with meals, works well for me.", ("lantus", "humalog"),
     ()),
    ("Metformin is cheap and my pharmacist is lovely", ("metformin",), ()),
    ("Ozempic pens are hard to find at my pharmacy.", ("ozempic",), ()),
    # event without product
    ("I get dizzy when I stand up too fast", (), ("dizzy",)),
    ("The heat this summer made me so tired", (), ("tired",)),
    ("I felt nauseous on the boat trip", (), ("nauseous",)),
    # neither
    ("Counting carbs is the hardest part of my day.", (), ()),
    ("My hypothesis is that walking after dinner helps my numbers.", (), ()),
    ("I follow a low sugar diet and check my glucose twice a day.", (), ()),
    ("", (), ()),
]


@pytest.mark.parametrize(("text", "products", "events"), NOT_FLAGGED)
def test_sentences_with_only_one_kind_or_none_are_not_flagged(text, products, events):
    found = find(text)
    assert found.products == products
    assert found.events == events
    assert found.flagged is False


# ---------------------------------------------------------------------------------------
# Misspellings, case, unicode, flexible multi-word matching
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("I feel dizzyness", "dizzyness"),
        ("the dizzines lasts an hour", "dizzines"),
        ("feeling nausious all day", "nausious"),
        ("bad diarhea", "diarhea"),
        ("nasty side affects", "side affects"),
        ("I keep vomitting", "vomitting"),
        ("my hypoglycemia episodes", "hypoglycemia"),
        ("hypoglycaemia (UK spelling)", "hypoglycaemia"),
    ],
)
def test_listed_misspellings_and_inflections_match_as_listed(text, term):
    assert find(text).events == (term,)


@pytest.mark.parametrize(
    "text",
    ["LANTUS made me DIZZY", "LaNtUs made me DiZzY", "lantus made me dizzy"],
)
def test_matching_is_case_insensitive_and_reports_lowercase_terms(text):
    found = find(text)
    assert found.products == ("lantus",)
    assert found.events == ("dizzy",)
    assert found.flagged


@pytest.mark.parametrize(
    "text",
    [
        "ＬＡＮＴＵＳ made me ｄｉｚｚｙ",  # full-width letters (NFKC)
        "Lan\u200btus made me dizzy",  # zero-width space inside the word
        "Lan\u00adtus made me diz\u00adzy",  # soft hyphens
        "Lantus\u00a0made me dizzy",  # no-break space
    ],
)
def test_unicode_is_normalised(text):
    found = find(text)
    assert found.products == ("lantus",)
    assert found.events == ("dizzy",)


def test_german_sharp_s_is_casefolded():
    lexicon = build_lexicon(products=["glucoseß"], events=["übelkeit"])
    found = match(lexicon, "GLUCOSESS verursacht ÜBELKEIT")
    assert found.products == ("glucosess",)
    assert found.events == ("übelkeit",)
    assert found.flagged


def test_spans_map_back_to_the_original_text_after_normalisation():
    text = "ＬＡＮＴＵＳ — ﬁne, but diz\u00adzy"
    found = find(text)
    (product_span,) = found.product_spans
    (event_span,) = found.event_spans
    assert text[slice(*product_span)] == "ＬＡＮＴＵＳ"
    assert text[slice(*event_span)] == "diz\u00adzy"


@pytest.mark.parametrize(
    "text",
    [
        "a side effect", "a side-effect", "a side  effect", "a Side\neffect",
        "a side\u2010effect", "a side \u2013 effect", "a sideeffect", "a side_effect",
    ],
)
def test_multi_word_terms_match_flexible_separators(text):
    found = find(text)
    assert found.events == ("side effect",)
    ((start, end),) = found.event_spans
    assert text[start:end].casefold().startswith("side")
    assert text[start:end].casefold().endswith("effect")


def test_flexible_separators_apply_to_every_multi_word_term():
    assert find("LOW-BLOOD-SUGAR again").events == ("low blood sugar",)
    assert find("head-ache").events == ("headache",)  # "head ache" folds into "headache"
    assert find("thrownup").events == ("thrown up",)
    assert find("insulin   glargine").products == ("insulin glargine",)
    assert find("GLP1 and glp 1 and GLP-1").products == ("glp-1",)


def test_longest_alternative_wins():
    found = find("insulin glargine gave me an allergic reaction, then side effects")
    assert found.products == ("insulin glargine",)
    assert found.events == ("allergic reaction", "side effects")
    assert len(found.product_spans) == 1


def test_terms_are_deduplicated_in_order_of_first_appearance():
    text = "Nausea, then dizzy. Lantus, metformin, lantus again, nausea again, NAUSEA."
    found = find(text)
    assert found.products == ("lantus", "metformin")
    assert found.events == ("nausea", "dizzy")
    assert len(found.event_spans) == 4
    assert len(found.product_spans) == 3
    assert [text[s:e].casefold() for s, e in found.event_spans] == [
        "nausea", "dizzy", "nausea", "nausea"
    ]


def test_spans_are_sorted_and_merged():
    lexicon = build_lexicon(products=["lantus", "lantus solostar"], events=["solostar pen"])
    text = "my lantus solostar pen and lantus"
    found = match(lexicon, text)
    assert found.product_spans == ((3, 18), (27, 33))
    assert found.event_spans == ((10, 22),)
    assert found.spans == ((3, 22), (27, 33))
    assert Match().spans == ()


# ---------------------------------------------------------------------------------------
# False positives: substrings of other words
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "my hypothesis about exercise",
        "hypothyroidism runs in my family",
        "actose is not a word",
        "insulinoma was ruled out",
        "insulinlike growth",
        "preinsulin",
        "a reactionary point of view",
        "the utility bill",
        "focus on numbers",
        "cramped flat",
        "my rashly chosen words",
        "dkay",
        "microthrushes",
        "milkshakes and protein shakes",
        "symlinks on my laptop",
    ],
)
def test_terms_inside_longer_words_do_not_match(text):
    found = find(text)
    assert found.products == ()
    assert found.events == ()


def test_digits_and_punctuation_are_word_boundaries():
    found = find("metformin500mg twice daily; (Lantus's pen) made me dizzy!!")
    assert found.products == ("metformin", "lantus")
    assert found.events == ("dizzy",)
    assert find("2x metformin").products == ("metformin",)


def test_terms_ending_in_a_digit_do_not_match_longer_numbers():
    assert find("glp-12 is not a thing").products == ()
    assert find("sglt2 inhibitor").products == ("sglt2 inhibitor",)


def test_combining_marks_are_part_of_the_word():
    assert find("insulin\u0301").products == ()
    assert find("\u0301insulin").products == ()


# ---------------------------------------------------------------------------------------
# Sponsor products and configuration
# ---------------------------------------------------------------------------------------


def test_sponsor_products_extend_the_defaults():
    sponsor = ("GlucoFix XR", "Diabetrol")
    lexicon = build_lexicon(products=DEFAULT_PRODUCTS + sponsor)
    assert lexicon.products[-2:] == ("glucofix xr", "diabetrol")
    found = match(lexicon, "Since starting glucofix-xr I get headaches, with Lantus too")
    assert found.products == ("glucofix xr", "lantus")
    assert found.events == ("headaches",)
    assert found.flagged
    assert match(lexicon, "DIABETROL made me itchy").flagged
    # the default lexicon does not know them
    assert not find("DIABETROL made me itchy").flagged


def test_extra_keyword_arguments_and_deduplication():
    lexicon = build_lexicon(
        products=["Lantus"], events=["dizzy"],
        extra_products=["lantus", " LANTUS ", "", "  ", "New-Med"], extra_events=["woozy"],
    )
    assert lexicon.products == ("lantus", "new-med")
    assert lexicon.events == ("dizzy", "woozy")
    found = match(lexicon, "new med made me woozy")
    assert found.products == ("new-med",)
    assert found.events == ("woozy",)


def test_empty_lexicon_matches_nothing():
    lexicon = build_lexicon(products=[], events=[])
    found = match(lexicon, "Lantus made me dizzy")
    assert found == Match()
    assert not found.flagged


def test_non_string_terms_are_rejected():
    with pytest.raises(TypeError):
        build_lexicon(products=["lantus", 3])  # type: ignore[list-item]


def test_terms_with_regex_metacharacters_are_literal():
    lexicon = build_lexicon(products=["med+ (xr)", "a.b"], events=["a&e"])
    assert match(lexicon, "med+ (xr) then A&E").flagged
    assert match(lexicon, "a.b").products == ("a.b",)
    assert match(lexicon, "axb").products == ()
    assert match(lexicon, "medd (xr)").products == ()


def test_lexicon_is_frozen_and_hashable():
    with pytest.raises(AttributeError):
        LEX.products = ()  # type: ignore[misc]
    assert hash(LEX) == hash(build_lexicon())


def test_parse_terms():
    assert parse_terms(None) == ()
    assert parse_terms("GlucoFix XR, Diabetrol\n# a comment\n  Other  Med  # trailing\n\n") == (
        "GlucoFix XR", "Diabetrol", "Other Med"
    )
    assert parse_terms(["a", " ", "b  c"]) == ("a", "b c")


# ---------------------------------------------------------------------------------------
# Excerpts
# ---------------------------------------------------------------------------------------

FILLER = "We walk to the market every Sunday and buy vegetables for the week. "


def test_excerpt_of_short_text_is_whole_text_with_collapsed_whitespace():
    text = "Lantus   made me\n\ndizzy"
    assert excerpt(text, find(text)) == "Lantus made me dizzy"


def test_excerpt_is_a_window_around_the_first_match():
    text = FILLER * 10 + "Then Lantus made me dizzy for days." + " " + FILLER * 10
    found = find(text)
    snippet = excerpt(text, found, width=80)
    assert len(snippet) <= 80
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "Lantus made me dizzy" in snippet
    # words are not cut at the edges
    inner = snippet.strip("…").split(" ")
    assert all(word in text.split() for word in inner)


def test_excerpt_includes_product_and_event_when_they_fit():
    text = FILLER * 3 + "Lantus " + "x " * 30 + "made me dizzy. " + FILLER * 3
    snippet = excerpt(text, find(text), width=160)
    assert "Lantus" in snippet and "dizzy" in snippet
    assert len(snippet) <= 160


def test_excerpt_falls_back_to_earliest_match_when_both_do_not_fit():
    text = "Lantus " + FILLER * 5 + "dizzy"
    snippet = excerpt(text, find(text), width=60)
    assert snippet.startswith("Lantus")
    assert snippet.endswith("…")
    assert len(snippet) <= 60


def test_excerpt_near_the_end_of_text():
    text = FILLER * 5 + "Ozempic nausea"
    snippet = excerpt(text, find(text), width=50)
    assert snippet.startswith("…")
    assert snippet.endswith("Ozempic nausea")
    assert len(snippet) <= 50


def test_excerpt_without_match_is_the_start_of_the_text():
    text = FILLER * 5
    snippet = excerpt(text, find(text), width=40)
    assert snippet.startswith("We walk")
    assert snippet.endswith("…")
    assert len(snippet) <= 40


def test_excerpt_of_a_match_longer_than_the_width():
    text = "xx side" + " " * 300 + "effect and lantus"
    found = find(text)
    assert found.events == ("side effect",)
    snippet = excerpt(text, found, width=20)
    assert len(snippet) <= 20
    assert "side" in snippet


@pytest.mark.parametrize("width", [1, 2, 3, 4, 10])
def test_excerpt_tiny_widths(width):
    text = FILLER + "Lantus dizzy" + FILLER
    snippet = excerpt(text, find(text), width=width)
    assert 0 < len(snippet) <= width


def test_excerpt_rejects_nonpositive_width():
    with pytest.raises(ValueError):
        excerpt("Lantus", find("Lantus"), width=0)


# ---------------------------------------------------------------------------------------
# Reporting clock
# ---------------------------------------------------------------------------------------

# 2027-01-11 is a Monday.
MON = datetime(2027, 1, 11, tzinfo=UTC)


def day(offset: int, hour: int = 0, minute: int = 0) -> datetime:
    return MON + timedelta(days=offset, hours=hour, minutes=minute)


def test_reference_day_is_a_monday():
    assert MON.weekday() == 0


@pytest.mark.parametrize(
    ("first_seen", "deadline"),
    [
        (day(0, 10), day(1, 10)),  # Monday → Tuesday
        (day(3, 10), day(4, 10)),  # Thursday → Friday
        (day(4, 10), day(7, 10)),  # Friday 10:00 → Monday 10:00
        (day(4, 23, 59), day(7, 23, 59)),  # Friday late → Monday late
        (day(5, 0), day(8, 0)),  # Saturday 00:00 → Tuesday 00:00
        (day(5, 15), day(8, 0)),  # Saturday afternoon → Tuesday 00:00
        (day(6, 23, 59), day(8, 0)),  # Sunday night → Tuesday 00:00
        (day(7, 0), day(8, 0)),  # Monday 00:00 → Tuesday 00:00
    ],
)
def test_reporting_deadline(first_seen, deadline):
    assert reporting_deadline(first_seen) == deadline
    assert not business_days_overdue(first_seen, deadline)
    assert business_days_overdue(first_seen, deadline + timedelta(seconds=1))
    assert not business_days_overdue(first_seen, first_seen)


def test_friday_flag_is_not_overdue_over_the_weekend():
    friday = day(4, 10)
    assert not business_days_overdue(friday, day(5, 12))  # Saturday
    assert not business_days_overdue(friday, day(6, 23))  # Sunday
    assert not business_days_overdue(friday, day(7, 9, 59))  # Monday 09:59
    assert business_days_overdue(friday, day(7, 10, 1))  # Monday 10:01


def test_saturday_flag_clock_starts_monday():
    saturday = day(5, 10)
    assert not business_days_overdue(saturday, day(7, 10))  # Monday 10:00
    assert not business_days_overdue(saturday, day(7, 23, 59))
    assert business_days_overdue(saturday, day(8, 0, 1))  # Tuesday 00:01


def test_weekday_flag_overdue_after_24_hours():
    tuesday = day(1, 9)
    assert not business_days_overdue(tuesday, day(2, 8, 59))
    assert business_days_overdue(tuesday, day(2, 9, 1))
    assert business_days_overdue(tuesday, day(30))


def test_naive_datetimes_are_utc_and_aware_ones_are_converted():
    naive_friday = datetime(2027, 1, 15, 10, 0)
    assert reporting_deadline(naive_friday) == datetime(2027, 1, 18, 10, 0, tzinfo=UTC)
    # Saturday 01:00 in UTC+02:00 is Friday 23:00 UTC: a business day.
    plus_two = timezone(timedelta(hours=2))
    first_seen = datetime(2027, 1, 16, 1, 0, tzinfo=plus_two)
    assert reporting_deadline(first_seen) == datetime(2027, 1, 18, 23, 0, tzinfo=UTC)
    assert business_days_overdue(first_seen, datetime(2027, 1, 18, 23, 1))
    assert not business_days_overdue(first_seen, datetime(2027, 1, 19, 0, 59, tzinfo=plus_two))


# ---------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------

SAMPLE_TERMS = ["Lantus", "metformin", "DIZZY", "side-effect", "nausious", "hypo", "insulin"]
texts = st.one_of(
    st.text(max_size=200),
    st.lists(
        st.one_of(st.sampled_from(SAMPLE_TERMS), st.text(max_size=8)), max_size=12
    ).map(" ".join),
)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_match_never_raises_and_is_consistent(text):
    found = find(text)
    assert found.flagged == (bool(found.products) and bool(found.events))
    assert set(found.products) <= set(LEX.products)
    assert set(found.events) <= set(LEX.events)
    assert len(found.product_spans) >= len(found.products)
    assert len(found.event_spans) >= len(found.events)
    for start, end in found.product_spans + found.event_spans:
        assert 0 <= start < end <= len(text)
    spans = found.spans
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))
    snippet = excerpt(text, found, width=60)
    assert len(snippet) <= 60


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(LEX.products), st.sampled_from(LEX.events), st.text(max_size=20))
def test_any_product_with_any_event_is_flagged(product, event, noise):
    text = f"{noise} {product.upper()}, then {event}. {noise}"
    found = find(text)
    assert found.flagged
    assert product in found.products
    assert event in found.events


def test_every_default_term_matches_itself_in_a_sentence():
    for term in DEFAULT_PRODUCTS:
        assert unicodedata.normalize("NFKC", term) == term
        found = find(f"Since ({term.title()}) I feel fine.")
        assert found.products == (term,) or term not in LEX.products, term
        assert found.products, term
    for term in DEFAULT_EVENTS:
        found = find(f"My doctor said: {term.upper()}!")
        assert found.events == (term,) or term not in LEX.events, term
        assert found.events, term
