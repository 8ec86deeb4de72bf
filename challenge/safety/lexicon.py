"""Adverse-event lexicon: find medicine (product) and side-effect (event) mentions in free text.

Pure module: standard library only, no Flask or SQLAlchemy (METHODS.md section 10).

A text mentioning at least one product *and* at least one event is flagged for the
safety team. Over-flagging is preferred to missing a report: the safety team reviews
every flag, so the lists favour recall, while whole-word matching keeps obvious
false positives ("hypothesis" is not "hypo", "insulinoma" is not "insulin") out.

Term data lives in this module as tuples (``DEFAULT_PRODUCTS``, ``DEFAULT_EVENTS``); there
are no data files. Configured sponsor products are added by the caller:
``build_lexicon(products=DEFAULT_PRODUCTS + sponsor_products)``.

Matching rules
--------------
* Text and terms are normalised with NFKC and casefold; invisible format characters
  (zero-width space, soft hyphen, ...) are ignored. Matching is thus case-insensitive and
  full-width or ligature forms match their plain spelling.
* A term matches only as a whole word: it must not be preceded or followed by a letter
  (or combining mark). Digits and punctuation are boundaries, so "metformin500mg" and
  "Lantus's" match. A term that starts (ends) with a digit must also not be preceded
  (followed) by a digit.
* There is no stemming: inflections and misspellings match only when listed.
* Parts of multi-word or hyphenated terms may be separated by any run of whitespace,
  hyphens/dashes or underscores, or written together: "side effect" matches
  "side-effect", "side  effect", "Side\\neffect" and "sideeffect".
* Terms that differ only in those separators are one term ("headache", "head ache"); the
  first listed is canonical and is what ``match`` reports, and separators are allowed
  wherever any listed variant has one.
* Longer terms are tried first, so "insulin glargine" is reported rather than "insulin".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

__all__ = [
    "DEFAULT_EVENTS",
    "DEFAULT_PRODUCTS",
    "Lexicon",
    "Match",
    "build_lexicon",
    "business_days_overdue",
    "default_lexicon",
    "excerpt",
    "match",
    "parse_terms",
    "reporting_deadline",
]

# ---------------------------------------------------------------------------------------
# Default term lists
# ---------------------------------------------------------------------------------------

DEFAULT_PRODUCTS: tuple[str, ...] = (
    # insulins (brand)
    "lantus", "toujeo", "basaglar", "abasaglar", "semglee", "rezvoglar", "levemir",
    "tresiba", "ryzodeg", "humalog", "humalog mix", "admelog", "lyumjev", "novolog",
    "novolog mix", "novorapid", "novomix", "fiasp", "apidra", "humulin", "novolin",
    "insuman", "actrapid", "insulatard", "afrezza",
    # insulins (generic)
    "insulin", "insulins", "insulin glargine", "insulin lispro", "insulin aspart",
    "insulin detemir", "insulin degludec", "insulin glulisine", "insulin isophane",
    "nph", "nph insulin", "regular insulin", "basal insulin", "bolus insulin",
    "long-acting insulin", "rapid-acting insulin", "mealtime insulin", "inhaled insulin",
    # biguanides
    "metformin", "glucophage", "glumetza", "fortamet", "riomet",
    # sulfonylureas
    "sulfonylurea", "sulfonylureas", "sulphonylurea", "sulphonylureas",
    "glipizide", "glucotrol", "glyburide", "glibenclamide", "diabeta", "micronase",
    "glynase", "daonil", "glimepiride", "amaryl", "gliclazide", "diamicron",
    "tolbutamide", "chlorpropamide",
    # meglitinides
    "repaglinide", "prandin", "nateglinide", "starlix",
    # DPP-4 inhibitors and combinations
    "dpp-4 inhibitor", "dpp-4", "sitagliptin", "januvia", "janumet", "saxagliptin",
    "onglyza", "kombiglyze", "linagliptin", "tradjenta", "trajenta", "jentadueto",
    "alogliptin", "nesina", "vipidia", "kazano", "vildagliptin", "galvus", "eucreas",
    # SGLT2 inhibitors and combinations
    "sglt2 inhibitor", "sglt2", "sglt-2", "empagliflozin", "jardiance", "synjardy",
    "glyxambi", "trijardy", "dapagliflozin", "farxiga", "forxiga", "xigduo", "qtern",
    "canagliflozin", "invokana", "invokamet", "ertugliflozin", "steglatro", "segluromet",
    "steglujan", "bexagliflozin", "brenzavvy", "sotagliflozin", "inpefa",
    # GLP-1 and GIP/GLP-1 receptor agonists
    "glp-1 agonist", "glp-1", "semaglutide", "ozempic", "rybelsus", "wegovy",
    "liraglutide", "victoza", "saxenda", "dulaglutide", "trulicity", "exenatide",
    "byetta", "bydureon", "lixisenatide", "adlyxin", "lyxumia", "albiglutide", "tanzeum",
    "soliqua", "suliqua", "xultophy", "tirzepatide", "mounjaro", "zepbound",
    # thiazolidinediones
    "pioglitazone", "actos", "actoplus met", "duetact", "rosiglitazone", "avandia",
    # alpha-glucosidase inhibitors
    "acarbose", "precose", "glucobay", "miglitol", "glyset",
    # amylin analogue, others
    "pramlintide", "symlin", "colesevelam", "welchol", "bromocriptine", "cycloset",
    "teplizumab", "tzield",
    # glucagon
    "glucagon", "glucagen", "baqsimi", "gvoke", "dasiglucagon", "zegalogue",
)

DEFAULT_EVENTS: tuple[str, ...] = (
    # generic
    "side effect", "side effects", "side-effect", "sideeffect", "sideeffects",
    "side affect", "side affects", "adverse reaction", "adverse reactions",
    "adverse event", "adverse events", "adverse effect", "adverse effects",
    "reaction", "reactions", "bad reaction",
    "made me sick", "makes me sick", "making me sick", "make me sick",
    "made me ill", "makes me ill", "feel sick", "feeling sick", "felt sick", "being sick",
    # dizziness, fainting
    "dizzy", "dizziness", "dizzyness", "dizzines", "dizy", "dizzie", "dizzy spells",
    "lightheaded", "light headed", "lightheadedness", "vertigo",
    "fainted", "fainting", "faintness", "felt faint", "feel faint", "feeling faint",
    "passed out", "passing out", "pass out", "blacked out", "black out", "blackout",
    "blackouts", "lost consciousness", "unconscious", "collapsed",
    "seizure", "seizures", "convulsion", "convulsions",
    # gastrointestinal
    "nausea", "nauseous", "nausious", "nauseated", "nausia", "naseous", "nauseus",
    "nausous", "queasy", "queasiness",
    "vomit", "vomits", "vomiting", "vomited", "vomitting", "vomitted",
    "throw up", "throws up", "threw up", "throwing up", "thrown up",
    "puke", "puking", "puked",
    "diarrhea", "diarrhoea", "diarhea", "diarrea", "diarreah", "diarrhia", "diahrrea",
    "diarhoea", "diarrheah", "loose stools", "loose stool",
    "constipation", "constipated", "constapation", "constipaton",
    "bloating", "bloated", "gassy", "flatulence",
    "stomach pain", "stomach pains", "abdominal pain", "abdominal pains", "stomach ache",
    "stomach aches", "tummy ache", "tummy pain", "belly ache", "belly pain",
    "cramps", "cramp", "cramping", "upset stomach", "stomach upset",
    "heartburn", "acid reflux", "reflux", "indigestion", "burping", "burps",
    "sulfur burps", "sulphur burps", "belching",
    "loss of appetite", "lost my appetite", "no appetite",
    "gastroparesis", "stomach paralysis", "bowel obstruction", "intestinal blockage",
    "pancreatitis", "pancreatits", "pancreatitus", "inflamed pancreas",
    "gallstones", "gall stones", "gallstone", "gallbladder", "cholecystitis",
    # skin, allergy, injection site
    "rash", "rashes", "itch", "itching", "itchy", "itches", "itchiness", "hives",
    "swelling", "swollen", "swelled", "puffy", "puffiness",
    "allergic reaction", "allergic reactions", "allergic", "allergy", "allergies",
    "anaphylaxis", "anaphylactic",
    "injection site reaction", "injection site reactions", "injection site pain",
    "injection site redness", "redness", "lump", "lumps", "lipohypertrophy",
    "lipodystrophy", "lipoatrophy", "bruise", "bruises", "bruised", "bruising",
    "welt", "welts", "hair loss", "losing hair", "losing my hair", "hair falling out",
    "thinning hair",
    # glucose
    "hypo", "hypos", "hypoglycemia", "hypoglycaemia", "hypoglycemic", "hypoglycaemic",
    "hypoglicemia", "hypoglycimia", "hypoglycemias",
    # not "low sugar" alone: "a low sugar diet" is common and is not an event
    "low blood sugar", "low blood sugars", "low blood glucose", "low sugars",
    "blood sugar crash", "sugar crash", "blood sugar dropped",
    "sugar dropped", "sugar crashed", "sugars crashed",
    "ketoacidosis", "ketoacidocis", "diabetic ketoacidosis", "dka", "lactic acidosis",
    # infections
    "yeast infection", "yeast infections", "thrush", "genital infection",
    "genital infections", "fungal infection", "candida", "candidiasis",
    "urinary tract infection", "urinary tract infections", "uti", "utis",
    "bladder infection", "kidney infection",
    # general, neurological, mood
    "headache", "headaches", "head ache", "head aches", "headach", "migraine",
    "migraines",
    "fatigue", "fatigued", "tired", "tiredness", "exhausted", "exhaustion",
    "lethargic", "lethargy", "drowsy", "drowsiness", "weakness",
    "shaking", "shaky", "the shakes", "tremor", "tremors", "trembling", "jittery",
    "sweating", "sweats", "sweaty",
    "blurred vision", "blurry vision", "blurred eyesight", "blurry", "blurred",
    "vision problems", "vision loss",
    # not "confused": patients are often confused about dosing, which is not an event
    "numbness", "numb", "tingling", "pins and needles",
    "insomnia", "depression", "depressed", "anxiety", "suicidal", "mood swings",
    "metallic taste", "dry mouth", "cough", "coughing", "fever", "chills",
    "muscle pain", "muscle aches", "joint pain",
    "weight gain", "gained weight", "put on weight",
    "dehydration", "dehydrated",
    # cardiovascular, renal, hepatic, other serious
    "palpitations", "palpitation", "racing heart", "heart racing", "pounding heart",
    "irregular heartbeat", "fast heartbeat", "tachycardia",
    "chest pain", "chest pains", "chest tightness", "tight chest",
    "heart attack", "heart failure", "stroke", "edema", "oedema", "fluid retention",
    "kidney problems", "kidney problem", "kidney damage", "kidney failure",
    "kidney injury", "kidney stones", "renal failure",
    "liver damage", "liver problems", "jaundice", "anemia", "anaemia", "b12 deficiency",
    "thyroid cancer", "thyroid tumor", "thyroid tumour", "amputation", "gangrene",
    # care escalation
    "hospitalized", "hospitalised", "hospitalization", "hospitalisation",
    "admitted to hospital", "admitted to the hospital",
    "er visit", "er visits", "emergency room", "a&e", "ambulance", "icu",
    "intensive care",
)

# ---------------------------------------------------------------------------------------
# Normalisation and pattern building
# ---------------------------------------------------------------------------------------

# Separators allowed (zero or more) between the parts of a multi-word term. After NFKC the
# non-breaking and figure hyphens become U+2010; dashes and the minus sign stay as they are.
_SEP_CHARS = r"\s\-\u2010-\u2015\u2212_"
_SEP_RE = re.compile(f"[{_SEP_CHARS}]+")
_SEP_PATTERN = f"[{_SEP_CHARS}]*"
# Combining marks count as letters for the word boundary ("insulin" + U+0301 is no match).
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_BEFORE = rf"(?<![^\W\d_])(?<![{_MARKS}])"
_AFTER = rf"(?![^\W\d_]|[{_MARKS}])"
_NEVER = re.compile(r"(?!)")


def _normalise_char(ch: str) -> str:
    if unicodedata.category(ch) == "Cf":  # zero-width space, soft hyphen, BOM, ...
        return ""
    return unicodedata.normalize("NFKC", ch).casefold()


def _normalise(text: str) -> tuple[str, list[int] | None]:
    """Normalise ``text``; return it with a map from normalised to original indexes.

    The map has one entry per normalised character plus a final ``len(text)``; ``None``
    means the identity (pure ASCII text).
    """
    if text.isascii():
        return text.lower(), None
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        norm = ch.lower() if ch.isascii() else _normalise_char(ch)
        out.append(norm)
        index.extend([i] * len(norm))
    index.append(len(text))
    return "".join(out), index


def _normalise_term(term: str) -> tuple[str, tuple[str, ...]]:
    """Return the canonical spelling of a term and its parts (split on separators)."""
    norm = "".join(_normalise_char(ch) for ch in term)
    parts = tuple(part for part in _SEP_RE.split(norm) if part)
    canonical = re.sub(rf"^[{_SEP_CHARS}]+|[{_SEP_CHARS}]+$", "", " ".join(norm.split()))
    return canonical, parts


def _term_pattern(key: str, splits: set[int]) -> str:
    """Pattern for a separator-free ``key`` allowing separators at the ``splits`` offsets."""
    pieces = []
    previous = 0
    for split in sorted(splits):
        pieces.append(re.escape(key[previous:split]))
        previous = split
    pieces.append(re.escape(key[previous:]))
    body = _SEP_PATTERN.join(pieces)
    if key[0].isdigit():
        body = r"(?<!\d)" + body
    if key[-1].isdigit():
        body += r"(?!\d)"
    return body


def _compile(terms: Iterable[str]) -> tuple[tuple[str, ...], dict[str, str], re.Pattern[str]]:
    canonicals: list[str] = []
    lookup: dict[str, str] = {}  # separator-free key -> canonical term
    splits: dict[str, set[int]] = {}  # key -> offsets where separators may occur
    for term in terms:
        if not isinstance(term, str):
            raise TypeError(f"term must be a string, not {type(term).__name__}")
        canonical, parts = _normalise_term(term)
        if not parts:
            continue
        key = "".join(parts)
        if key not in lookup:
            lookup[key] = canonical
            canonicals.append(canonical)
            splits[key] = set()
        # Variants of one term ("headache", "head ache") share a key; the pattern allows
        # separators wherever any variant has one.
        offset = 0
        for part in parts[:-1]:
            offset += len(part)
            splits[key].add(offset)
    if not splits:
        return (), lookup, _NEVER
    # Longest first (then alphabetical, for a deterministic pattern).
    ordered = sorted(splits, key=lambda key: (-len(key), key))
    alternation = "|".join(_term_pattern(key, splits[key]) for key in ordered)
    # No re.IGNORECASE: the text is casefolded first, and IGNORECASE would also equate
    # e.g. dotless "ı" with "i", which casefolding deliberately does not.
    pattern = re.compile(f"{_BEFORE}(?:{alternation}){_AFTER}")
    return tuple(canonicals), lookup, pattern


@dataclass(frozen=True)
class Lexicon:
    """Compiled product and event terms. Build with :func:`build_lexicon`.

    ``products``/``events`` are the canonical terms; the patterns apply to *normalised*
    text (as produced inside :func:`match`), so use :func:`match` rather than them.
    """

    products: tuple[str, ...]
    events: tuple[str, ...]
    product_pattern: re.Pattern[str] = field(compare=False, repr=False)
    event_pattern: re.Pattern[str] = field(compare=False, repr=False)
    _product_lookup: dict[str, str] = field(compare=False, repr=False)
    _event_lookup: dict[str, str] = field(compare=False, repr=False)


def build_lexicon(
    products: Iterable[str] = DEFAULT_PRODUCTS,
    events: Iterable[str] = DEFAULT_EVENTS,
    *,
    extra_products: Iterable[str] = (),
    extra_events: Iterable[str] = (),
) -> Lexicon:
    """Compile a lexicon. Sponsor products go in ``extra_products`` (or ``products``).

    Terms are normalised (NFKC, casefold, whitespace collapsed); blank terms are ignored
    and terms differing only in separators are deduplicated, the first one kept.
    """
    product_terms, product_lookup, product_pattern = _compile(
        [*products, *extra_products]
    )
    event_terms, event_lookup, event_pattern = _compile([*events, *extra_events])
    return Lexicon(
        products=product_terms,
        events=event_terms,
        product_pattern=product_pattern,
        event_pattern=event_pattern,
        _product_lookup=product_lookup,
        _event_lookup=event_lookup,
    )


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The lexicon of the default lists only (no sponsor products), compiled once."""
    return build_lexicon()


def parse_terms(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Parse configured terms: a string with one term per line or comma-separated, where
    ``#`` starts a comment, or an iterable of strings. Blank entries are dropped."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[str] = []
        for line in value.splitlines():
            items.extend(line.split("#", 1)[0].split(","))
    else:
        items = list(value)
    return tuple(" ".join(item.split()) for item in items if item and item.strip())


# ---------------------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------------------

Span = tuple[int, int]


@dataclass(frozen=True)
class Match:
    """Result of :func:`match`.

    ``products``/``events``: canonical terms, deduplicated, in order of first appearance.
    ``product_spans``/``event_spans``: every occurrence, as ``(start, end)`` offsets into the
    original text. ``spans``: all occurrences sorted, overlapping ones merged (for
    highlighting).
    """

    products: tuple[str, ...] = ()
    events: tuple[str, ...] = ()
    product_spans: tuple[Span, ...] = ()
    event_spans: tuple[Span, ...] = ()

    @property
    def flagged(self) -> bool:
        """True when the text mentions both a product and an event."""
        return bool(self.products) and bool(self.events)

    @property
    def spans(self) -> tuple[Span, ...]:
        merged: list[list[int]] = []
        for start, end in sorted(self.product_spans + self.event_spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return tuple((start, end) for start, end in merged)


def _find(
    pattern: re.Pattern[str], lookup: dict[str, str], norm: str, index: list[int] | None
) -> tuple[tuple[str, ...], tuple[Span, ...]]:
    terms: dict[str, None] = {}
    spans: list[Span] = []
    for found in pattern.finditer(norm):
        key = _SEP_RE.sub("", found.group())
        terms.setdefault(lookup.get(key, key), None)
        start, end = found.span()
        if index is not None:
            start, end = index[start], index[end - 1] + 1
        spans.append((start, end))
    return tuple(terms), tuple(spans)


def match(lexicon: Lexicon, text: str) -> Match:
    """Find product and event mentions in ``text``."""
    if not text:
        return Match()
    norm, index = _normalise(text)
    products, product_spans = _find(
        lexicon.product_pattern, lexicon._product_lookup, norm, index
    )
    events, event_spans = _find(lexicon.event_pattern, lexicon._event_lookup, norm, index)
    return Match(products, events, product_spans, event_spans)


def _focus(found: Match) -> Span | None:
    """The region an excerpt centres on: the earliest match, widened to include the first
    mention of the other kind when both fit together (computed by the caller)."""
    firsts = [spans[0] for spans in (found.product_spans, found.event_spans) if spans]
    if not firsts:
        return None
    firsts.sort()
    return firsts[0] if len(firsts) == 1 else (firsts[0][0], max(e for _, e in firsts))


def excerpt(text: str, found: Match, width: int = 160) -> str:
    """A short window of ``text`` around its first match, for the safety queue only
    (excerpts are never published).

    The window is centred on the first product mention and the first event mention when
    both fit, otherwise on the earliest mention; without any mention it is the start of
    the text. Whitespace runs are collapsed, cut ends are marked with "…", words are not
    cut where avoidable, and the result is never longer than ``width`` characters.
    """
    if width < 1:
        raise ValueError("width must be at least 1")
    n = len(text)
    if n <= width:
        return " ".join(text.split())
    ellipsis = "…" if width >= 3 else ""
    inner = width - 2 * len(ellipsis)
    region = _focus(found)
    start, end = (0, 0) if region is None else region
    start, end = min(max(start, 0), n), min(max(end, 0), n)
    if region is not None and end - start > inner:
        # Both mentions do not fit: fall back to the earliest one.
        first = min(found.product_spans[:1] + found.event_spans[:1])
        start, end = min(max(first[0], 0), n), min(max(first[1], 0), n)
    slack = inner - (end - start)
    if slack <= 0:
        lo, hi = start, start + inner
    else:
        lo = max(0, start - slack // 2)
        hi = min(n, lo + inner)
        lo = max(0, hi - inner)
    # Do not cut words at the edges, unless that would cut into the focus region.
    if lo > 0 and not text[lo - 1].isspace() and not text[lo].isspace():
        cut = lo
        while cut < start and not text[cut].isspace():
            cut += 1
        if cut < start:
            lo = cut
    if hi < n and not text[hi - 1].isspace() and not text[hi].isspace():
        cut = hi
        while cut > end and not text[cut - 1].isspace():
            cut -= 1
        if cut > end:
            hi = cut
    body = " ".join(text[lo:hi].split())
    prefix = ellipsis if lo > 0 else ""
    suffix = ellipsis if hi < n else ""
    return f"{prefix}{body}{suffix}"


# ---------------------------------------------------------------------------------------
# Reporting clock
# ---------------------------------------------------------------------------------------


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes are taken to be UTC; aware ones are converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def reporting_deadline(first_seen: datetime) -> datetime:
    """When a flag first seen at ``first_seen`` becomes overdue (UTC, aware).

    Rule: business days are Monday to Friday in UTC (no public holidays). The clock starts
    at ``first_seen`` if that is on a business day, otherwise at 00:00 UTC of the next
    business day. The deadline is one business day later: the same time of day on the
    next business day. Examples: Thursday 10:00 → Friday 10:00; Friday 10:00 → Monday
    10:00; Saturday or Sunday (any time) → Tuesday 00:00.
    """
    start = _as_utc(first_seen)
    if start.weekday() >= 5:
        start = start.replace(hour=0, minute=0, second=0, microsecond=0)
        while start.weekday() >= 5:
            start += timedelta(days=1)
    deadline = start + timedelta(days=1)
    while deadline.weekday() >= 5:
        deadline += timedelta(days=1)
    return deadline


def business_days_overdue(first_seen: datetime, now: datetime) -> bool:
    """True when more than one business day has passed since ``first_seen``, i.e. when
    ``now`` is strictly after :func:`reporting_deadline` (see there for the rule)."""
    return _as_utc(now) > reporting_deadline(first_seen)
