"""What tells an unchanged export (services/importer/unchanged.py, the sources' content_hash,
shared/fingerprints.py): equal for equal content, different for any change."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from services.importer.sources import DemoSource, FilesSource
from services.importer.unchanged import ExportIdentity, carried_counts, pipeline_fingerprint
from shared.fingerprints import code_fingerprint, library_versions
from shared.testing import write_export
from tests.integration.importing import customer, invoice


def export(directory: Path, amount: str = "100.00") -> Path:
    return write_export(
        directory,
        customers=[customer("C1")],
        invoices=[invoice("F1", "C1", amount)],
        payment_conditions=[{"code": "30D", "description": "30 days", "term_days": "30"}],
    )


def test_equal_files_have_equal_content_hashes_wherever_and_whenever_written(
    tmp_path: Path,
) -> None:
    first = FilesSource(export(tmp_path / "a"))
    second = FilesSource(export(tmp_path / "b"))
    os.utime(second.path("invoice"), (0, 0))
    assert first.content_hash() == second.content_hash() is not None
    assert first.fingerprint() != second.fingerprint()


def test_any_changed_byte_or_missing_file_changes_the_content_hash(tmp_path: Path) -> None:
    source = FilesSource(export(tmp_path / "a"))
    hashes = {source.content_hash()}
    export(tmp_path / "a", amount="100.01")
    hashes.add(source.content_hash())
    source.path("customer").unlink()
    hashes.add(source.content_hash())
    assert len(hashes) == 3 and None not in hashes


def test_a_file_that_reading_would_consume_has_no_content_hash(tmp_path: Path) -> None:
    source = FilesSource(export(tmp_path / "a"))
    source.path("invoice").unlink()
    os.mkfifo(source.path("invoice"))
    assert source.content_hash() is None  # and it did not block reading the pipe


def test_an_identity_notices_an_export_changed_after_it_was_hashed(tmp_path: Path) -> None:
    source = FilesSource(export(tmp_path / "a"))
    identity = ExportIdentity.of(source)
    assert identity.content_hash == source.content_hash()
    assert identity.still_describes(source)
    export(tmp_path / "a", amount="5.00")
    assert not identity.still_describes(source)


def test_the_demo_content_hash_follows_its_content() -> None:
    day = date(2026, 12, 3)
    assert DemoSource(1, today=day).content_hash() == DemoSource(1, today=day).content_hash()
    assert DemoSource(1, today=day).content_hash() != DemoSource(2, today=day).content_hash()
    assert (
        DemoSource(1, today=day).content_hash()
        != DemoSource(1, today=date(2026, 12, 4)).content_hash()
    )


def test_code_fingerprints_follow_the_files_and_the_library_versions(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "rules.py").write_text("LIMIT = 1\n")
    (tmp_path / "pkg" / "notes.txt").write_text("not code")
    (tmp_path / "schema.sql").write_text("create table t ();\n")
    paths = [tmp_path / "pkg", tmp_path / "schema.sql"]
    before = code_fingerprint(paths, libraries=["pycountry"])
    assert code_fingerprint(paths, libraries=["pycountry"]) == before
    (tmp_path / "pkg" / "notes.txt").write_text("other text")
    assert code_fingerprint(paths, libraries=["pycountry"]) == before
    assert code_fingerprint(paths, libraries=["phonenumbers"]) != before
    (tmp_path / "pkg" / "rules.py").write_text("LIMIT = 2\n")
    assert code_fingerprint(paths, libraries=["pycountry"]) != before


def test_library_versions_name_each_package_and_a_missing_one() -> None:
    versions = library_versions(["pycountry", "no-such-package-here"])
    assert versions.startswith("pycountry=") and versions.endswith(";no-such-package-here=?;")


def test_the_pipeline_fingerprint_is_computed_once_and_stable() -> None:
    assert pipeline_fingerprint() == pipeline_fingerprint()
    assert len(pipeline_fingerprint()) == 64


def test_carried_counts_count_what_was_loaded_as_unchanged() -> None:
    counts = {
        "invoice": {"added": 5, "updated": 2, "unchanged": 10, "blocked": 3, "ignored": 1},
        "customer": {"added": 1, "updated": 0, "unchanged": 0, "blocked": 0, "ignored": 0},
    }
    assert carried_counts(counts) == {
        "invoice": {"added": 0, "updated": 0, "unchanged": 17, "blocked": 3, "ignored": 1},
        "customer": {"added": 0, "updated": 0, "unchanged": 1, "blocked": 0, "ignored": 0},
    }
    assert carried_counts(carried_counts(counts)) == carried_counts(counts)
