"""Ignore patterns for drift: names as the fingerprint writes them, a kind before a colon, a table's parts with it."""

import pytest

from service.analysis.drift_ignore import InvalidIgnorePattern, parse_ignore_rules

INDEX = ("indexes", ("public", "Patient_email_tmp_idx"), {"table": "Patient", "definition": "CREATE INDEX …", "valid": True, "ready": True})
COLUMN = ("columns", ("public", "audit_log", "at"), {"type": "text"})
TABLE = ("tables", ("public", "audit_log"), {"kind": "table"})
EXTENSION = ("extensions", ("pg_stat_statements",), {"version": "1.10", "schema": "public"})
ENUM = ("types", ("billing", "Plan"), {"kind": "enum", "labels": ["FREE"]})
FUNCTION = ("functions", ("public", "touch(a integer)"), {"kind": "function"})
OWNED_SEQUENCE = ("sequences", ("public", "audit_log_id_seq"), {"owned_by": ["public", "audit_log", "id"]})


def matches(pattern, obj):
    (rule,) = parse_ignore_rules([pattern])
    return rule.matches(*obj)


@pytest.mark.parametrize(
    ("pattern", "obj", "expected"),
    [
        ("public.Patient_email_tmp_idx", INDEX, True),
        ("public.patient_email_tmp_idx", INDEX, False),  # names are case-sensitive, as quoted PostgreSQL names are
        ("*_tmp_idx", INDEX, True),  # no dot: the object's own name, in any schema
        ("other.*_tmp_idx", INDEX, False),
        ("index:*_tmp_idx", INDEX, True),
        ("column:*_tmp_idx", INDEX, False),
        ("public.audit_*", COLUMN, True),  # a part goes with its table
        ("audit_log", COLUMN, True),
        ("public.audit_log.at", COLUMN, True),
        ("public.audit_*", TABLE, True),
        ("public.audit_*", OWNED_SEQUENCE, True),
        ("extension:*", EXTENSION, True),
        ("pg_stat_*", EXTENSION, True),
        ("table:*", EXTENSION, False),
        ("enum:billing.*", ENUM, True),
        ("type:billing.*", ENUM, True),
        ("domain:billing.*", ENUM, False),
        ("touch(*)", FUNCTION, True),
        ("function:public.touch(a integer)", FUNCTION, True),
        ("materialized view:*", TABLE, False),
    ],
)
def test_what_a_pattern_matches(pattern, obj, expected):
    assert matches(pattern, obj) is expected


@pytest.mark.parametrize(
    ("pattern", "message"),
    [("gadget:*", "unknown kind 'gadget'"), ("index:", "the pattern is empty"), ("  ", "the pattern is empty")],
)
def test_bad_patterns_are_refused_by_name(pattern, message):
    with pytest.raises(InvalidIgnorePattern, match=message):
        parse_ignore_rules(["public.*", pattern])
