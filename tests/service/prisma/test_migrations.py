import hashlib
import random
import string

import pytest
import pyuca

from service.prisma.errors import (
    MigrationFileNotFound,
    MigrationFileUnreadable,
    MigrationsDirectoryError,
    ProviderSwitched,
)
from service.prisma.migrations import (
    migrations_from_bundle,
    read_lock_provider,
    read_migrations_directory,
    render_checksum,
    script_matches_checksum,
    sort_in_prisma_order,
)

PRINTABLE_ASCII = [chr(code) for code in range(0x20, 0x7F)]


def uca_sorted(names):
    collator = pyuca.Collator()
    return sorted(names, key=lambda name: (collator.sort_key(name), name))


def test_ascii_fast_path_orders_every_pair_as_the_collation_does():
    pairs = [a + b for a in PRINTABLE_ASCII for b in PRINTABLE_ASCII]
    assert sort_in_prisma_order(pairs) == uca_sorted(pairs)


def test_ascii_fast_path_orders_random_names_as_the_collation_does():
    generator = random.Random(7)
    alphabet = string.ascii_letters + string.digits + "_-. "
    names = {"".join(generator.choice(alphabet) for _ in range(generator.randint(1, 12))) for _ in range(4000)}
    assert sort_in_prisma_order(names) == uca_sorted(names)


def test_names_outside_printable_ascii_use_the_full_collation():
    names = ["e_x", "é_x", "ss", "ß", "z_x", "Ab", "aB", "a\tb"]
    assert sort_in_prisma_order(names) == uca_sorted(names)
    assert sort_in_prisma_order(names).index("é_x") < sort_in_prisma_order(names).index("z_x")


def test_checksum_is_lowercase_hex_sha256_of_the_text_as_stored():
    script = 'CREATE TABLE "A" (id int);\r\n'
    assert render_checksum(script) == hashlib.sha256(script.encode()).hexdigest()
    assert render_checksum("hello") == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


@pytest.mark.parametrize(
    "stored_from, local",
    [
        ("a;\nb;\n", "a;\r\nb;\r\n"),
        ("a;\r\nb;\r\n", "a;\nb;\n"),
        ("a;\nb;\rc\n", "a;\r\nb;\rc\r\n"),
    ],
)
def test_checksum_comparison_accepts_the_other_line_ending(stored_from, local):
    assert script_matches_checksum(local, render_checksum(stored_from))


def test_checksum_comparison_rejects_a_real_edit():
    assert not script_matches_checksum("abc", render_checksum("abcd"))
    assert not script_matches_checksum("abc\n", render_checksum("abc"))


def test_checksum_comparison_accepts_unpadded_checksums_of_old_engines():
    script = "SELECT 1;\n"
    digest = hashlib.sha256(script.encode()).digest()
    unpadded = "".join(format(byte, "x") for byte in digest)
    if len(unpadded) == 64:  # this digest has no byte below 0x10; pick a script that does
        script = "SELECT 2;\n"
        digest = hashlib.sha256(script.encode()).digest()
        unpadded = "".join(format(byte, "x") for byte in digest)
    assert len(unpadded) < 64
    assert script_matches_checksum(script, unpadded)
    assert not script_matches_checksum(script + " ", unpadded)


def test_directory_is_read_in_locale_order_not_byte_order(write_migrations):
    names = ["20240101_b", "20240101_C", "20240101_a", "20240101-a", "20240101_A"]
    base = write_migrations({name: f"-- {name}\n" for name in names})
    order = read_migrations_directory(base).names
    # localeCompare: case folds at the first level ("a" < "b" < "C"), lowercase before uppercase,
    # and "_" sorts before "-"; byte order would put every uppercase name first.
    assert order == ["20240101_a", "20240101_A", "20240101_b", "20240101_C", "20240101-a"]
    assert order != sorted(names)


def test_directory_keeps_the_file_text_and_checksum_untouched(write_migrations):
    base = write_migrations({"1_crlf": b"CREATE TABLE a (id int);\r\n-- caf\xc3\xa9\r\n"})
    [migration] = read_migrations_directory(base)
    assert migration.script == "CREATE TABLE a (id int);\r\n-- café\r\n"
    assert migration.checksum == hashlib.sha256(b"CREATE TABLE a (id int);\r\n-- caf\xc3\xa9\r\n").hexdigest()


def test_files_and_links_beside_the_folders_are_ignored(write_migrations, tmp_path):
    base = write_migrations({"1_init": "SELECT 1;"})
    (base / "README.md").write_text("notes")
    (base / "linked").symlink_to(base / "1_init")
    assert read_migrations_directory(base).names == ["1_init"]


def test_folder_without_migration_sql_is_p3015(write_migrations):
    base = write_migrations({"1_init": "SELECT 1;", "2_empty": None})
    with pytest.raises(MigrationFileNotFound) as raised:
        read_migrations_directory(base)
    assert raised.value.code == "P3015"
    assert str(base / "2_empty" / "migration.sql") in raised.value.message


def test_non_utf8_file_is_a_clear_error(write_migrations):
    base = write_migrations({"1_latin1": b"-- caf\xe9\n"})
    with pytest.raises(MigrationFileUnreadable, match="not valid UTF-8"):
        read_migrations_directory(base)


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(MigrationsDirectoryError, match="does not exist"):
        read_migrations_directory(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(MigrationsDirectoryError, match="not a directory"):
        read_migrations_directory(tmp_path / "file")


def test_lock_file_provider_is_checked_p3019(write_migrations):
    base = write_migrations({"1_init": "SELECT 1;"}, provider="mysql")
    local = read_migrations_directory(base)
    assert local.lock_provider == "mysql"
    with pytest.raises(ProviderSwitched) as raised:
        local.check_provider()
    assert raised.value.code == "P3019"
    assert "`postgresql`" in raised.value.message and "`mysql`" in raised.value.message


def test_no_lock_file_is_accepted(write_migrations):
    base = write_migrations({"1_init": "SELECT 1;"}, provider=None)
    local = read_migrations_directory(base)
    assert local.lock_provider is None
    local.check_provider()


@pytest.mark.parametrize(
    "text, provider",
    [
        ('provider = "postgresql"\n', "postgresql"),
        ('# comment\nprovider = "postgresql"', "postgresql"),
        ('  provider = "postgresql"', "<PROVIDER NOT FOUND>"),
        ("", "<PROVIDER NOT FOUND>"),
        ('provider="postgresql"', 'provider="postgresql'),
    ],
)
def test_lock_file_is_read_line_by_line_like_prisma(text, provider):
    assert read_lock_provider(text) == provider


def test_bundle_is_ordered_and_validated():
    local = migrations_from_bundle({"2_b": "SELECT 2;", "1_a": "SELECT 1;"}, 'provider = "postgresql"')
    assert local.names == ["1_a", "2_b"]
    assert local.get("2_b").checksum == render_checksum("SELECT 2;")
    with pytest.raises(MigrationsDirectoryError):
        migrations_from_bundle({"../etc": "SELECT 1;"})
    with pytest.raises(MigrationFileNotFound):
        migrations_from_bundle({"1_a": None})
