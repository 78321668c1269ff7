"""Drift in words: identifiers quoted as PostgreSQL quotes them, the target's schema left out, statements shortened."""

import pytest

from service.analysis.drift_words import describe, drift_line, index_summary, quote


@pytest.mark.parametrize(
    ("name", "quoted"),
    [("email", "email"), ("Patient", '"Patient"'), ("user", '"user"'), ("order", '"order"'), ("name", "name"), ('say"hi', '"say""hi"'), ("a b", '"a b"')],
)
def test_identifiers_are_quoted_as_postgresql_quotes_them(name, quoted):
    assert quote(name) == quoted


@pytest.mark.parametrize(
    ("statement", "home", "summary"),
    [
        ('CREATE INDEX "Patient_email_idx" ON public."Patient" USING btree (email)', "public", 'index "Patient_email_idx" ON "Patient" (email)'),
        ("CREATE UNIQUE INDEX t_key ON app.t USING btree (x) WHERE (x IS NOT NULL)", "app", "unique index t_key ON t (x) WHERE (x IS NOT NULL)"),
        ('CREATE INDEX "Doc_body_idx" ON audit."Doc" USING gin (body)', "public", 'index "Doc_body_idx" ON audit."Doc" USING gin (body)'),
    ],
)
def test_an_index_is_shown_as_its_statement_without_what_goes_without_saying(statement, home, summary):
    assert index_summary({"definition": statement}, home) == summary


def test_lines_say_which_side_has_what():
    column = {"type": "text", "not_null": True, "default": "'x'::text", "identity": None, "generated": None, "collation": None}
    key = ("public", "Patient", "nickname")
    assert (
        drift_line("columns", key, "added", None, column, "public") == "+ column \"Patient\".nickname text NOT NULL DEFAULT 'x'::text — not in the migrations"
    )
    assert (
        drift_line("columns", key, "missing", column, None, "public")
        == "- column \"Patient\".nickname text NOT NULL DEFAULT 'x'::text — in the migrations, not on the target"
    )
    changed = {**column, "not_null": False, "default": None}
    assert drift_line("columns", key, "differs", column, changed, "public") == (
        "~ column \"Patient\".nickname: default 'x'::text in the migrations, none on the target; NOT NULL in the migrations, nullable on the target"
    )


def test_an_enum_whose_values_only_moved_says_so():
    before, after = {"kind": "enum", "labels": ["A", "B"]}, {"kind": "enum", "labels": ["B", "A"]}
    assert drift_line("types", ("public", "Role"), "differs", before, after, "public") == (
        "~ enum \"Role\": values in another order: ('A', 'B') in the migrations, ('B', 'A') on the target"
    )


def test_a_whole_table_counts_its_parts_and_other_schemas_are_named():
    assert describe("tables", ("audit", "Log"), {"kind": "table", "unlogged": True}, "public", ("2 columns",)) == 'unlogged table audit."Log" (2 columns)'
    sequence = {"owned_by": ["public", "Patient", "id"]}
    assert describe("sequences", ("public", "Patient_id_seq"), sequence, "public") == 'sequence "Patient_id_seq" owned by "Patient".id'
