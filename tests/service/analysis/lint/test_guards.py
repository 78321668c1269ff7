import pytest

from service.analysis.lint.guards import (
    DUPLICATE_OBJECT,
    DUPLICATE_TABLE,
    UNDEFINED_TABLE,
    guarded_against,
    missed_by_handlers,
)
from service.analysis.parsing import parse_migration

ADD_UNIQUE = 'ALTER TABLE "Coupon" ADD CONSTRAINT "k" UNIQUE ("code");'


def inner(body: str):
    [statement] = parse_migration(f"DO $$\nBEGIN\n{body}\nEND $$;").nested
    return statement


@pytest.mark.parametrize(
    "handler",
    ["duplicate_table", "SQLSTATE '42P07'", "syntax_error_or_access_rule_violation", "SQLSTATE '42000'", "others"],
)
def test_a_handler_for_the_error_its_class_or_others_is_a_guard(handler):
    statement = inner(f"  {ADD_UNIQUE}\nEXCEPTION WHEN {handler} THEN NULL;")
    assert guarded_against(statement, DUPLICATE_TABLE)
    assert missed_by_handlers(statement, DUPLICATE_TABLE) == ""


def test_a_handler_for_another_error_is_no_guard_and_says_so():
    statement = inner(f"  {ADD_UNIQUE}\nEXCEPTION WHEN duplicate_object THEN NULL;")
    assert not guarded_against(statement, DUPLICATE_TABLE)
    assert guarded_against(statement, DUPLICATE_OBJECT)
    assert missed_by_handlers(statement, DUPLICATE_TABLE) == ("; the DO block's handler for duplicate_object does not catch 42P07 (duplicate_table)")


def test_an_if_over_the_catalog_guards_against_anything_and_other_ifs_against_nothing():
    checked = inner(f"  IF to_regclass('\"Coupon\"') IS NOT NULL THEN\n    {ADD_UNIQUE}\n  END IF;")
    assert guarded_against(checked, UNDEFINED_TABLE) and missed_by_handlers(checked, UNDEFINED_TABLE) == ""
    unchecked = inner(f"  IF 1 = 1 THEN\n    {ADD_UNIQUE}\n  END IF;")
    assert not guarded_against(unchecked, DUPLICATE_TABLE)


def test_top_level_statements_have_no_guard():
    [statement] = parse_migration(ADD_UNIQUE).statements
    assert not guarded_against(statement, DUPLICATE_TABLE) and missed_by_handlers(statement, DUPLICATE_TABLE) == ""
