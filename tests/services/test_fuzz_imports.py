"""Every import format, fuzzed through the real commands (CONTRACTS.md).

`surveys import` (JSON), `surveys import-responses` (CSV), `challenges import` (JSON) and
`judging import-scores` (CSV) are given structured mutations of a valid file: values of the
wrong type, missing keys and columns, extra keys and columns, huge and non-finite numbers,
Unicode, NUL bytes, ragged rows, broken quoting and broken encodings. Whatever the file,
the command exits 0 or 1 (never a traceback); when it refuses the file (1) it says why on
stderr and the database is exactly as before (every table counted). There is no web upload
route for these formats (the platform imports only from the command line).
"""

from __future__ import annotations

import contextvars
import copy
import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from challenge import clock
from challenge.db import session_scope
from challenge.models import Base
from tests.services.test_challenges import CONTRACT as CHALLENGE
from tests.services.test_challenges import REGISTRATION, publish_guidelines
from tests.services.test_challenges import SURVEY_CONTRACT as SURVEY
from tests.services.test_reviews import DURING

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

RESPONSES_HEADER = ["external_id", "role", "dtype", "exercise.importance",
                    "exercise.satisfaction", "devices", "stress", "age", "story"]
RESPONSES = [["p-1", "patient", "t1", "5", "2", "cgm", "4", "34", "Night-time lows"],
             ["p-2", "carer", "", "4", "4", "", "2", "61", ""],
             ["p-3", "patient", "t2", "3", "1", "cgm", "", "", "Ozempic made me dizzy"]]
SCORES_HEADER = ["judge", "team", "criterion", "score", "comment"]
SCORES = [["ana@example.org", "GlucoGo", key, "4", "Fine"]
          for key in ("impact", "feasibility", "design")]

# --- strategies -----------------------------------------------------------------------------

UNICODE = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), UNICODE,
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 1e308, -1e308, 2**63, "", " ", "\x00", "x" * 100_000, "\u202e",
                     "𝒳" * 50, "NaN", "Infinity", "2027-13-45T99:99:99Z", "../../etc",
                     "<script>alert(1)</script>", "=1+1"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(UNICODE, st.integers(), max_size=2),
)
# mostly readable files (so the mutations reach validation), sometimes broken ones
ENCODINGS = st.sampled_from(["utf-8"] * 8 + ["utf-8-sig", "latin-1", "utf-16", "truncated",
                                             "nul", "garbage"])
BROKEN_QUOTE = st.integers(0, 5).map(lambda n: n == 0)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _at(doc, path):
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def json_mutations(draw, base: dict) -> dict:
    """`base` with one to three structural changes."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = _at(doc, path[:-1])
        op = draw(st.sampled_from(["set", "set", "delete", "extra"]))
        if op == "set":
            parent[path[-1]] = draw(ODD_VALUES)
        elif op == "delete":
            del parent[path[-1]]
        else:
            container = _at(doc, path)
            if isinstance(container, dict):
                container[draw(UNICODE)] = draw(ODD_VALUES)
            elif isinstance(container, list):
                container.append(draw(ODD_VALUES))
            else:
                parent[path[-1]] = [container, draw(ODD_VALUES)]
    return doc


@st.composite
def csv_mutations(draw, header: list[str], rows: list[list[str]]) -> list[list[str]]:
    """A header and rows with one to three changes: cells, columns, row shapes."""
    table = [list(header), *(list(r) for r in rows)]
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["cell", "cell", "cell", "drop", "extra", "dup", "ragged",
                                   "blank"]))
        column = draw(st.integers(0, len(table[0]) - 1)) if table[0] else 0
        if op == "cell" and len(table) > 1:
            row = draw(st.integers(1, len(table) - 1))
            if column < len(table[row]):
                table[row][column] = str(draw(ODD_VALUES))
        elif op == "drop" and table[0]:
            for row in table:
                if column < len(row):
                    del row[column]
        elif op == "extra":
            for i, row in enumerate(table):
                row.append(draw(UNICODE) if i == 0 else "x")
        elif op == "dup" and table[0]:
            table[0].append(table[0][column])
            for row in table[1:]:
                row.append("1")
        elif op == "ragged" and len(table) > 1:
            row = draw(st.integers(1, len(table) - 1))
            table[row] = table[row][: draw(st.integers(0, len(table[row])))] + (
                ["extra"] * draw(st.integers(0, 2)))
        elif op == "blank":
            table.append([""] * draw(st.integers(0, 3)))
    return table


def _encode(text: str, how: str) -> bytes:
    if how == "truncated":
        data = text.encode("utf-8")
        return data[: max(1, len(data) // 2)]
    if how == "nul":
        return text.encode("utf-8").replace(b",", b",\x00", 1).replace(b":", b":\x00", 1)
    if how == "garbage":
        return b"\xff\xfe\x00\x80" + text.encode("utf-8")[:50] + b"\"\"\"\x9c"
    return text.encode(how, errors="replace")


def _csv_text(table: list[list[str]], broken_quote: bool) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(table)
    text = out.getvalue()
    return text.replace(",", ',"', 1) if broken_quote else text


# --- the commands -------------------------------------------------------------------------

def counts(app) -> dict[str, int]:
    with app.app_context(), session_scope(app) as s:
        return {t.name: s.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables}


def invoke(app, *args):
    return contextvars.Context().run(app.test_cli_runner().invoke,
                                     args=[str(a) for a in args])


def assert_clear_outcome(app, result, before: dict[str, int], path: Path) -> None:
    """Exit 0, or exit 1 with a reason and nothing changed; never a traceback."""
    shown = f"exit {result.exit_code}: {result.output[-2000:]}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception), shown)
    assert result.exit_code in (0, 1), shown
    assert "Traceback" not in result.output, shown
    if result.exit_code == 1:
        assert result.stderr.strip(), shown
        assert all(line.strip() for line in result.stderr.strip().splitlines()), shown
        assert counts(app) == before, shown


@pytest.fixture(autouse=True)
def _frozen(app):
    clock.freeze(REGISTRATION)
    yield
    clock.freeze(None)


@pytest.fixture
def survey_world(app, session):
    """The contract survey with published guidelines (so challenges may cite them)."""
    publish_guidelines(session)
    session.commit()


@pytest.fixture
def scoring_world(app, session, survey_world, tmp_path):
    """The contract challenge imported, inside its judging window."""
    path = tmp_path / "challenge.json"
    path.write_text(json.dumps(CHALLENGE))
    assert invoke(app, "challenges", "import", path).exit_code == 0
    for email in ("olga@example.org",):  # a second judge, so the file can name two
        doc = copy.deepcopy(CHALLENGE)
        doc["judges"].append({"email": email, "name": "Olga", "panel": "expert"})
        path.write_text(json.dumps(doc))
        assert invoke(app, "challenges", "import", path).exit_code == 0
    clock.freeze(DURING)


def _fuzz_json_import(app, path, doc: dict, *command: str) -> None:
    """Mutations of the JSON document `doc`, written to `path` and imported by `command`:
    each one either imports or is refused clearly with nothing changed."""
    @FUZZ
    @given(mutated=json_mutations(doc), encoding=ENCODINGS)
    def check(mutated, encoding):
        path.write_bytes(_encode(json.dumps(mutated, ensure_ascii=False), encoding))
        before = counts(app)
        assert_clear_outcome(app, invoke(app, *command, path), before, path)

    check()


def test_survey_definitions(app, survey_world, tmp_path):
    doc = copy.deepcopy(SURVEY)
    doc["slug"] = "fuzzed-survey"
    _fuzz_json_import(app, tmp_path / "survey.json", doc, "surveys", "import")


def test_survey_responses(app, survey_world, tmp_path):
    @FUZZ
    @given(table=csv_mutations(RESPONSES_HEADER, RESPONSES), encoding=ENCODINGS,
           broken_quote=BROKEN_QUOTE)
    def check(table, encoding, broken_quote):
        path = tmp_path / "responses.csv"
        path.write_bytes(_encode(_csv_text(table, broken_quote), encoding))
        before = counts(app)
        result = invoke(app, "surveys", "import-responses", SURVEY["slug"], path)
        assert_clear_outcome(app, result, before, path)

    check()


def test_challenges(app, survey_world, tmp_path):
    doc = copy.deepcopy(CHALLENGE)
    doc["slug"] = "fuzzed-challenge"
    doc["teams"][0]["members"] = ["fuzz-member@example.org"]
    doc["judges"][0]["email"] = "fuzz-judge@example.org"
    _fuzz_json_import(app, tmp_path / "challenge.json", doc, "challenges", "import")


def test_scores(app, scoring_world, tmp_path):
    rows = [*SCORES, *(["olga@example.org", "GlucoGo", key, "2", ""]
                       for key in ("impact", "feasibility", "design"))]

    @FUZZ
    @given(table=csv_mutations(SCORES_HEADER, rows), encoding=ENCODINGS,
           broken_quote=BROKEN_QUOTE)
    def check(table, encoding, broken_quote):
        path = tmp_path / "scores.csv"
        path.write_bytes(_encode(_csv_text(table, broken_quote), encoding))
        before = counts(app)
        result = invoke(app, "judging", "import-scores", CHALLENGE["slug"], path)
        assert_clear_outcome(app, result, before, path)

    check()


def _with(doc: dict, path: tuple, value) -> bytes:
    changed = copy.deepcopy(doc)
    _at(changed, path[:-1])[path[-1]] = value
    return json.dumps(changed).encode()


FOUND_BY_FUZZING = [  # each of these once ended in a traceback
    (("surveys", "import"), "s.json", _with(SURVEY, ("questions", 0, "options"), True)),
    (("surveys", "import"), "s.json",
     _with(SURVEY, ("questions", 0, "options", 1, "value"), [])),
    (("surveys", "import"), "s.json", _with(SURVEY, ("questions", 1, "show_if", "key"), [1])),
    (("challenges", "import"), "c.json", _with(CHALLENGE, ("judges", 0, "name"), None)),
    (("challenges", "import"), "c.json", _with(CHALLENGE, ("description",), None)),
    (("challenges", "import"), "c.json",
     _with(CHALLENGE, ("teams", 0, "submission", "summary"), None)),
    (("challenges", "import"), "c.json",
     _with(CHALLENGE, ("rubric", "criteria", 0, "description"), None)),
    (("challenges", "import"), "c.json", _with(CHALLENGE, ("judges", 0, "panel"), ["x"])),
    (("challenges", "import"), "c.json", _with(CHALLENGE, ("slug",), ["ddd-2027", None])),
]
NULL_MEANS_NONE = [  # accepted: a null list of guideline keys cites none
    (("challenges", "import"), "c.json",
     _with(CHALLENGE, ("teams", 0, "submission", "needs"), None)),
    (("challenges", "import"), "c.json",
     _with(CHALLENGE, ("rubric", "criteria", 0, "guidelines"), None)),
]


@pytest.mark.parametrize(("command", "name", "content"), [
    *FOUND_BY_FUZZING,
    (("surveys", "import"), "s.json", b""),
    (("surveys", "import"), "s.json", b"[1, 2, 3]"),
    (("surveys", "import"), "s.json", b'{"slug": NaN}'),
    (("surveys", "import"), "s.json", b"{" * 100_000),
    (("surveys", "import"), "s.json", b"[" * 100_000 + b"]" * 100_000),
    (("surveys", "import"), "s.json", b'{"slug": "deep", "title": "T", "questions": '
     + b"[" * 900 + b"]" * 900 + b"}"),
    (("surveys", "import"), "s.json", b'{"slug": "deep", "title": "T", "questions": [], "x": '
     + b"[" * 900 + b"]" * 900 + b"}"),
    (("surveys", "import"), "s.json", b'"' + b"x" * 1_000_000 + b'"'),
    (("surveys", "import-responses", SURVEY["slug"]), "r.csv", b""),
    (("surveys", "import-responses", SURVEY["slug"]), "r.csv", b"\x00\x00\x00"),
    (("surveys", "import-responses", SURVEY["slug"]), "r.csv",
     b"external_id,role\r\n" + b"x," * 200_000 + b"\r\n"),
    (("challenges", "import"), "c.json", b"null"),
    (("challenges", "import"), "c.json", b'{"slug": 1e999}'),
    (("challenges", "import"), "c.json", b"[" * 100_000 + b"]" * 100_000),
    (("challenges", "import"), "c.json",
     json.dumps({**CHALLENGE, "slug": "deep", "panels": {"expert": 1.0}}).encode()[:-1]
     + b', "rubric": {"criteria": [{"key": "k", "name": "n", "weight": 1, "levels": '
     + b"[" * 900 + b"]" * 900 + b"}]}}"),
    (("judging", "import-scores", CHALLENGE["slug"]), "x.csv", b"judge\r\n"),
    (("judging", "import-scores", CHALLENGE["slug"]), "x.csv", b"\xef\xbb\xbf"),
])
def test_degenerate_files(app, scoring_world, tmp_path, command, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    before = counts(app)
    result = invoke(app, *command, path)
    assert_clear_outcome(app, result, before, path)
    assert result.exit_code == 1


@pytest.mark.parametrize(("command", "name", "content"), NULL_MEANS_NONE)
def test_null_lists_of_guideline_keys_are_empty(app, survey_world, tmp_path, command, name,
                                                content):
    path = tmp_path / name
    path.write_bytes(content)
    result = invoke(app, *command, path)
    assert_clear_outcome(app, result, counts(app), path)
    assert result.exit_code == 0, result.stderr


def test_a_problem_quoting_a_broken_cell_stays_on_one_line(app, scoring_world, tmp_path):
    path = tmp_path / "scores.csv"
    path.write_bytes(b'judge,"team,criterion\r\nscore\r\nana@example.org,GlucoGo,impact,4\r\n')
    result = invoke(app, "judging", "import-scores", CHALLENGE["slug"], path)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), lines
