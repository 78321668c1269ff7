import pytest

from service.analysis.lint.rules.narrowing_type_change import DeclaredType, narrowing, prisma_type
from tests.service.analysis.lint.helpers import lint_ok, lint_one

RULE = "narrowing-type-change"


def prisma_warning(column: str, table: str, old: str, new: str) -> str:
    """The comment Prisma writes above a risky cast (schema-engine's RiskyCast)."""
    return (
        f"/*\n  Warnings:\n\n  - You are about to alter the column `{column}` on the `{table}` table. The data in that column could be lost. "
        f"The data in that column will be cast from `{old}` to `{new}`.\n\n*/\n"
    )


def test_a_narrowing_prisma_warns_about_is_a_warning():
    sql = (
        prisma_warning("notes", "Appointment", "Text", "VarChar(2000)")
        + '-- AlterTable\nALTER TABLE "Appointment" ALTER COLUMN "notes" SET DATA TYPE VARCHAR(2000);'
    )
    finding = lint_one(sql, RULE)
    assert (finding.severity, finding.line) == ("warning", 8)
    assert finding.message == '"Appointment"."notes" narrows from Text to varchar(2000): values longer than 2000 characters fail (22001)'


def test_the_warning_with_a_count_of_values_is_read_too():
    sql = (
        "-- You are about to alter the column `total` on the `Order` table, which contains 3 non-null values. "
        "The data in that column will be cast from `BigInt` to `Integer`.\n"
        'ALTER TABLE "Order" ALTER COLUMN "total" SET DATA TYPE INTEGER;'
    )
    assert lint_one(sql, RULE).message == '"Order"."total" narrows from BigInt to integer: numbers beyond integer\'s range fail (22003)'


@pytest.mark.parametrize(
    "sql",
    [
        'ALTER TABLE "Appointment" ALTER COLUMN "notes" SET DATA TYPE VARCHAR(20);',
        prisma_warning("notes", "Appointment", "Text", "VarChar(2000)") + 'ALTER TABLE "Appointment" ALTER COLUMN "notes" SET DATA TYPE VARCHAR(500);',
        prisma_warning("notes", "Appointment", "Text", "VarChar(2000)") + 'ALTER TABLE "Visit" ALTER COLUMN "notes" SET DATA TYPE VARCHAR(2000);',
        prisma_warning("code", "Item", "VarChar(10)", "VarChar(20)") + 'ALTER TABLE "Item" ALTER COLUMN "code" SET DATA TYPE VARCHAR(20);',
        prisma_warning("notes", "Scratch", "Text", "VarChar(20)")
        + 'CREATE TABLE "Scratch" ("notes" text);\nALTER TABLE "Scratch" ALTER COLUMN "notes" TYPE VARCHAR(20);',
    ],
    ids=["old-type-not-stated", "warning-about-another-change", "warning-about-another-table", "widening", "new-table"],
)
def test_changes_not_known_to_narrow_pass(sql):
    lint_ok(sql, RULE)


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("Text", "VarChar(50)", "values longer than 50 characters fail (22001)"),
        ("VarChar(100)", "VarChar(50)", "values longer than 50 characters fail (22001)"),
        ("VarChar(50)", "Char(10)", "values longer than 10 characters fail (22001)"),
        ("VarChar(50)", "VarChar(100)", None),
        ("VarChar(50)", "Text", None),
        ("Text", "Integer", "text that does not read as integer fails (22P02)"),
        ("BigInt", "Integer", "numbers beyond integer's range fail (22003)"),
        ("Integer", "SmallInt", "numbers beyond SmallInt's range fail (22003)"),
        ("Integer", "BigInt", None),
        ("Decimal(65,30)", "Integer", "fractions are rounded away, and numbers beyond integer's range fail (22003)"),
        ("Decimal(12,2)", "Decimal(10,2)", "numbers of more than 8 digits before the point fail (22003)"),
        ("Decimal(10,4)", "Decimal(10,2)", "digits after the 2th decimal are rounded away"),
        ("Decimal(10,2)", "Decimal(12,2)", None),
        ("Integer", "Decimal(5,0)", "numbers of more than 5 digits fail (22003)"),
        ("SmallInt", "Decimal(5,0)", None),
        ("DoublePrecision", "Real", "digits beyond real's 6 significant ones are lost, and larger numbers fail (22003)"),
        ("Text[]", "VarChar(5)[]", "values longer than 5 characters fail (22001)"),
        ("Text[]", "VarChar(5)", None),
        ("Timestamp(3)", "Timestamptz(3)", None),
    ],
)
def test_what_narrows_and_what_the_running_application_meets(old, new, expected):
    old_type, new_type = prisma_type(old), prisma_type(new)
    assert old_type is not None and new_type is not None
    assert narrowing(old_type, new_type, "integer" if new_type.name == "int4" else new) == expected


def test_prisma_type_names_map_to_postgresqls():
    assert prisma_type("VarChar(2000)") == DeclaredType("varchar", (2000,))
    assert prisma_type("Decimal(10, 2)") == DeclaredType("numeric", (10, 2))
    assert prisma_type("DoublePrecision") == DeclaredType("float8")
    assert prisma_type("Text[]") == DeclaredType("text", (), True)
    assert prisma_type("not a type!") is None
