"""verify trusts a package's receipt only while its metadata are the bytes that were checked."""

from __future__ import annotations

from pathlib import Path

import bagit
import pytest

from isaprofile import __version__
from isaprofile.bagit.verify import verify_package
from isaprofile.package.deposit import package_dataset
from isaprofile.package.metadata_checks import RECEIPT, metadata_checks

STUDY = "data/metadata/isatab/s_MASH-CT.txt"
MOUSE, HUMAN = "Mus musculus\tNCBITaxon\tNCBITaxon:10090", "Homo sapiens\tNCBITaxon\tNCBITaxon:9606"


@pytest.fixture
def pkg(example: Path, tmp_path: Path) -> Path:
    result = package_dataset(example, tmp_path / "pkg", workers=1)
    assert result.path is not None
    return result.path


def _found(pkg: Path, recheck: bool = False) -> list[tuple]:
    return verify_package(pkg, checks=metadata_checks(recheck)).flatten(("code", "file", "path"))


def test_an_untouched_package_is_not_checked_again(pkg: Path) -> None:
    info = (pkg / "bag-info.txt").read_text()
    assert f"{RECEIPT}: {__version__} sha256:" in info
    assert _found(pkg) == [("metadata-unchanged", "bag-info.txt", RECEIPT)]
    assert _found(pkg, recheck=True) == []


def test_metadata_edited_and_rebagged_are_checked_again(pkg: Path) -> None:
    """bagit-python's save() makes the manifests right again (fixity passes); the receipt no longer fits."""
    study = pkg / STUDY
    study.write_text(study.read_text().replace(MOUSE, HUMAN))
    bag = bagit.Bag(str(pkg))
    bag.save(manifests=True)
    bag.validate()
    assert RECEIPT in (pkg / "bag-info.txt").read_text()  # the receipt travelled, the digests changed
    found = _found(pkg)
    assert found == _found(pkg, recheck=True)
    assert found and set(found) == {("value-not-allowed", STUDY, "Characteristics[organism]")}  # each mouse


def test_a_data_file_replaced_and_rebagged_has_the_crate_checked(pkg: Path) -> None:
    """The receipt pins the whole payload manifest: a data file swapped under the crate is caught."""
    image = next(p for p in sorted((pkg / "data/images").rglob("*.nii.gz")))
    image.write_bytes(image.read_bytes() + b"\0")
    bagit.Bag(str(pkg)).save(manifests=True)
    codes = {f[0] for f in _found(pkg)}
    assert "crate-file-mismatch" in codes and "metadata-unchanged" not in codes


def test_a_receipt_of_another_version_is_not_trusted(pkg: Path) -> None:
    info = pkg / "bag-info.txt"
    info.write_text(info.read_text().replace(f"{RECEIPT}: {__version__} ", f"{RECEIPT}: 0.0.0-other "))
    bagit.Bag(str(pkg)).save()  # the tag manifests again
    assert _found(pkg) == []  # checked again, and valid


def test_a_package_of_an_invalid_dataset_carries_no_receipt(example: Path, tmp_path: Path) -> None:
    (example / "images/HCC-01/HCC-01-w0-mri.nii.gz").unlink()
    forced = package_dataset(example, tmp_path / "pkg", allow_invalid=True, workers=1)
    assert forced.path is not None
    assert RECEIPT not in (forced.path / "bag-info.txt").read_text()
    assert "metadata-unchanged" not in {f[0] for f in _found(forced.path)}


def test_a_zipped_package_is_trusted_the_same_way(example: Path, tmp_path: Path) -> None:
    result = package_dataset(example, tmp_path / "pkg.zip", zip=True, workers=1)
    assert result.path is not None and result.path.is_file()
    assert _found(result.path) == [("metadata-unchanged", "bag-info.txt", RECEIPT)]
    assert _found(result.path, recheck=True) == []


def test_without_a_clean_fixity_pass_the_metadata_are_hashed_again(pkg: Path) -> None:
    """The receipt check trusts the fixity pass only when that pass found nothing; on its own it hashes."""
    from isaprofile.bagit.bag import verify_bag
    from isaprofile.bagit.views import FolderView
    from isaprofile.package.metadata_checks import unchanged_since_checked

    clean = FolderView(pkg)
    assert verify_bag(clean).issues == [] and clean.bag_clean is True and unchanged_since_checked(clean)
    crate = pkg / "data/ro-crate-metadata.json"
    crate.write_bytes(crate.read_bytes().replace(b'"name"', b'"name" ', 1))  # one byte more, manifests kept
    alone = FolderView(pkg)
    assert alone.bag_clean is None and not unchanged_since_checked(alone)  # no fixity pass: hashed here
    checked = FolderView(pkg)
    assert verify_bag(checked).issues and checked.bag_clean is False and not unchanged_since_checked(checked)


def test_the_receipt_names_the_payload_manifest_in_canonical_form(pkg: Path) -> None:
    """The receipt's digest is that of the ``sha256 path`` lines sorted by path, whether it is given the
    manifest's hex digests or the build's digests themselves."""
    import hashlib

    from isaprofile.bagit.hashing import hash_file
    from isaprofile.package.metadata_checks import payload_digest, receipt

    lines = (pkg / "manifest-sha256.txt").read_text().splitlines()
    entries = {path: sha.upper() for sha, path in (line.split("  ", 1) for line in reversed(lines))}
    canonical = "".join(f"{sha.lower()} {path}\n" for path, sha in sorted(entries.items()))
    assert payload_digest(entries) == hashlib.sha256(canonical.encode()).hexdigest()
    digests = {path: hash_file(pkg / path) for path in entries}
    assert payload_digest(digests) == payload_digest(entries)
    info = (pkg / "bag-info.txt").read_text()
    assert f"{RECEIPT}: {receipt(digests)[RECEIPT]}" in info
