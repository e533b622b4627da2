"""Verify one bag (RFC 8493), a folder or a zip, whoever made it.

Public API::

    verify_bag(view, *, workers=None, progress=None) -> Report
    verify_one(path, *, checks=(), workers=None, limits=None, progress=None) -> Report

Every MUST of RFC 8493 that a reader can check is an error, every SHOULD a warning; the rule list,
with the section of the RFC each comes from, is in docs/packaging.md ("verify"). In short:

- ``bagit.txt``: UTF-8 without a byte-order mark, exactly ``BagIt-Version: M.N`` and
  ``Tag-File-Character-Encoding: ENC`` (one space or tab after the colon, none before), a version
  this reader knows (0.93-0.97, 1.0; a later 1.x is read as 1.0 with a warning, 2.0 is refused), an
  encoding Python knows (anything but UTF-8 is a warning).
- the other tag files this specification defines (manifests, ``bag-info.txt``, ``fetch.txt``) are
  decoded with the declared encoding (UTF-16 bags of 0.97 included); with UTF-8 they carry no BOM;
  every line ends with LF, CR or CRLF.
- a ``data/`` folder; at least one payload manifest; manifest lines ``checksum<LWS>path`` with a
  hex digest of the algorithm's length; paths relative, ``/``-separated, never outside the bag (no
  ``..``, no absolute path, no ``~``), payload manifest paths inside ``data/``, no folder listed,
  no path twice; ``./`` prefixes are accepted; in 1.0 ``%0A``, ``%0D`` and ``%25`` are decoded.
- every payload file in every payload manifest (BagIt 1.0; in older versions in at least one),
  every listed file present, every digest right.
- tag manifests list every payload manifest, no payload file and no tag manifest, and SHOULD list
  every other tag file (a warning when not).
- ``fetch.txt``: ``url<LWS>length<LWS>path``, an absolute URI, a length or ``-``, a payload path
  listed in every payload manifest; a listed file that is not there makes the bag incomplete
  (verify never downloads); a present file of another length is a warning.
- ``bag-info.txt``: ``Label: value`` lines with continuation lines (1.0: no whitespace before the
  colon; older versions: any), Payload-Oxum at most once, well formed and right; a malformed
  Bagging-Date or Bag-Count is a warning.
- names that collide after case folding / Unicode normalisation, or that Windows cannot hold, are
  warnings.

Memory: every file is read once for all its algorithms; expected digests are kept as one compact
``bytes`` per path (:class:`Expected`), computed digests are compared as they stream in and dropped.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import sys
import zipfile
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from isaprofile.bagit.errors import PackageError
from isaprofile.bagit.hashing import ALGORITHMS, FileDigest, hash_stream, iter_file_digests
from isaprofile.bagit.paths import check_paths, path_problem
from isaprofile.bagit.tags import BAG_INFO, DECLARATION, PAYLOAD_DIR, SOFTWARE, payload_oxum
from isaprofile.bagit.views import Check, FolderView, PackageView, ZipView, run_checks
from isaprofile.bagit.ziputil import SafeZip, ZipLimits
from isaprofile.findings.issues import Issue, Report, issue
from isaprofile.progress import Progress

FETCH = "fetch.txt"
KNOWN_VERSIONS = frozenset({(0, 93), (0, 94), (0, 95), (0, 96), (0, 97), (1, 0)})
_MANIFEST = re.compile(r"^(tag)?manifest-([^/]*)\.txt$")
_ALGORITHM = re.compile(r"^[a-z0-9]+$")
#: normalised algorithm names (RFC 8493 §2.4: lower case, non-alphanumerics removed) -> hashlib names
_HASHLIB = {
    "md5": "md5",
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
    "sha3224": "sha3_224",
    "sha3256": "sha3_256",
    "sha3384": "sha3_384",
    "sha3512": "sha3_512",
    "blake2b": "blake2b",
    "blake2s": "blake2s",
}
_DECL_LINES = (
    re.compile(r"^BagIt-Version:[ \t](\d+)\.(\d+)$"),
    re.compile(r"^Tag-File-Character-Encoding:[ \t](\S+)$"),
)
_LINE_END = re.compile(r"\r\n|\r|\n")
_MANIFEST_LINE = re.compile(r"^([0-9A-Fa-f]+)[ \t]+(.+)$")
_FETCH_LINE = re.compile(r"^(\S+)[ \t]+(\S+)[ \t]+(.+)$")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S+$")
_INFO_V1 = re.compile(r"^([^:\s](?:[^:]*[^:\s])?):(?:[ \t](.*))?$")
_INFO_OLD = re.compile(r"^[ \t]*([^:]*?)[ \t]*:[ \t]*(.*)$")
_OXUM = re.compile(r"^\d+\.\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COUNT = re.compile(r"^\d+ of (\d+|\?)$")


@dataclass(frozen=True, slots=True)
class Declaration:
    """What ``bagit.txt`` declares (the defaults when it is missing or broken)."""

    version: tuple[int, int] = (1, 0)
    encoding: str = "utf-8"  # a Python codec name

    @property
    def v1(self) -> bool:
        return self.version >= (1, 0)


@dataclass(slots=True)
class Manifest:
    name: str
    tag: bool
    algorithm: str  # the hashlib name
    index: int  # its number in :class:`Expected`


class Expected:
    """Path -> the digests the manifests list for it, one compact ``bytes`` per path.

    Each blob is ``[manifest index][digest bytes]...``; with two manifests that is about 100 bytes per
    file besides the path, instead of a list of tuples of hex strings.
    """

    def __init__(self) -> None:
        self.sizes: list[int] = []  # digest length in bytes, by manifest index
        self.blobs: dict[str, bytes] = {}

    def manifest(self, digest_size: int) -> int:
        self.sizes.append(digest_size)
        return len(self.sizes) - 1

    def add(self, path: str, index: int, digest: bytes) -> bool:
        """Record ``digest`` for ``path`` in manifest ``index``; ``False`` when it was already listed there."""
        if self.listed_by(path, index):
            return False
        self.blobs[path] = self.blobs.get(path, b"") + bytes((index,)) + digest
        return True

    def entries(self, path: str) -> Iterator[tuple[int, bytes]]:
        blob = self.blobs.get(path, b"")
        i = 0
        while i < len(blob):
            index = blob[i]
            end = i + 1 + self.sizes[index]
            yield index, blob[i + 1 : end]
            i = end

    def listed_by(self, path: str, index: int) -> bool:
        return any(i == index for i, _ in self.entries(path))


# -- text tag files ------------------------------------------------------------------------------


def lines(text: str) -> Iterator[tuple[int, str, bool]]:
    """``(number, line, terminated)`` for each line; LF, CR and CRLF all end a line (RFC 8493 §2.4)."""
    pos = 0
    n = 0
    for m in _LINE_END.finditer(text):
        n += 1
        yield n, text[pos : m.start()], True
        pos = m.end()
    if pos < len(text):
        yield n + 1, text[pos:], False


def parse_declaration(data: bytes) -> tuple[Declaration | None, list[tuple[str, str]]]:
    """The declaration and ``(severity, reason)`` problems; ``None`` when it cannot be used."""
    if data.startswith(codecs.BOM_UTF8):
        return None, [("error", "bagit.txt must not start with a byte-order mark")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [("error", f"bagit.txt must be UTF-8 (bad byte at offset {exc.start})")]
    rows = list(lines(text))
    if len(rows) != 2 or not all(done for _, _, done in rows):
        reason = "must be exactly two lines, BagIt-Version then Tag-File-Character-Encoding, each with a line end"
        return None, [("error", reason)]
    version = _DECL_LINES[0].match(rows[0][1])
    encoding = _DECL_LINES[1].match(rows[1][1])
    if version is None:
        return None, [("error", "line 1 must be 'BagIt-Version: M.N' (one space or tab after the colon, none before)")]
    if encoding is None:
        return None, [
            ("error", "line 2 must be 'Tag-File-Character-Encoding: ENCODING' (one space or tab after the colon)")
        ]
    problems: list[tuple[str, str]] = []
    major, minor = int(version.group(1)), int(version.group(2))
    if (major, minor) not in KNOWN_VERSIONS:
        if major == 1:
            problems.append(
                ("warning", f"BagIt-Version {major}.{minor} is newer than 1.0; checked by the rules of 1.0")
            )
        else:
            return None, [
                ("error", f"BagIt-Version {major}.{minor} is not a version this reader knows (0.93-0.97, 1.0)")
            ]
    label = encoding.group(1)
    try:
        codec = codecs.lookup(label).name
    except LookupError:
        return None, [("error", f"unknown Tag-File-Character-Encoding {label!r}")]
    if codec != "utf-8":
        problems.append(("warning", f"Tag-File-Character-Encoding is {label}; it SHOULD be UTF-8"))
    return Declaration((major, minor), codec), problems


def decode_tag(data: bytes, decl: Declaration) -> tuple[str | None, str | None]:
    """A tag file's text in the declared encoding, and the reason when it cannot be decoded."""
    if decl.encoding == "utf-8" and data.startswith(codecs.BOM_UTF8):
        return None, "starts with a byte-order mark, which UTF-8 tag files must not"
    try:
        text = data.decode(decl.encoding)
    except UnicodeDecodeError as exc:
        return None, f"not {decl.encoding} (bad byte at offset {exc.start})"
    return text.removeprefix("\ufeff"), None


def decode_path(text: str, decl: Declaration) -> str:
    """A manifest or fetch path: percent-decoded (1.0, §2.1.3: only %0A, %0D, %25), ``./`` removed."""
    if decl.v1 and "%" in text:
        text = re.sub(r"%(0[aAdD]|25)", lambda m: chr(int(m.group(1), 16)), text)
    while text.startswith("./"):
        text = text[2:]
    return text


def entry_problem(path: str) -> str | None:
    """Why a path from a manifest or fetch.txt may not be followed (RFC 8493 §7.2), or ``None``."""
    if path.startswith("~"):
        return "a home-folder reference ('~')"
    return path_problem(path)


# -- the validator -------------------------------------------------------------------------------

_TEXT_BLOCK = 1 << 16  # a manifest is read 64 KiB at a time (a MiB at a time held 3 MiB more for CRLM)


class _Undecodable(ValueError):
    """A tag file that is not text in the declared encoding (the reason)."""


class _Bag:
    """One run of the validator over a view; collects findings in ``report``."""

    def __init__(self, view: PackageView, workers: int | None, progress: Progress | None) -> None:
        self.view = view
        self.workers = workers
        self.progress = progress
        self.report = Report()
        self.files = view.files()
        sizes = getattr(view, "sizes", None)
        self.present: Collection[str] = sizes if isinstance(sizes, dict) else set(self.files)
        self.decl = Declaration()
        self.info: list[tuple[str, str]] = []

    def add(self, found: Issue) -> None:
        self.report.add(found)

    def read(self, rel: str) -> bytes | None:
        try:
            with self.view.open(rel) as fh:
                return fh.read()
        except (OSError, zipfile.BadZipFile) as exc:
            self.add(issue("package-unreadable", file=rel, reason=str(exc)))
        return None

    def text(self, rel: str) -> str | None:
        data = self.read(rel)
        if data is None:
            return None
        text, reason = decode_tag(data, self.decl)
        if reason:
            self.add(issue("tag-file-encoding", file=rel, reason=reason))
        return text

    def text_lines(self, rel: str) -> Iterator[tuple[int, str, bool]] | None:
        """:func:`lines` of :meth:`text`, decoded a block at a time: a CRLM manifest (17,840 files) is 4 MB, whose
        bytes and text were both held at once. None, with the finding, when it cannot be read or decoded: the file
        is read through once to be sure before its lines are given (so no half of a manifest is taken)."""
        try:
            for _text in self._decoded(rel):
                pass
        except (OSError, zipfile.BadZipFile) as exc:
            self.add(issue("package-unreadable", file=rel, reason=str(exc)))
            return None
        except _Undecodable as exc:
            self.add(issue("tag-file-encoding", file=rel, reason=str(exc)))
            return None
        return self._lines(rel)

    def _decoded(self, rel: str) -> Iterator[str]:
        """The text of ``rel`` in pieces; raises :class:`_Undecodable` as :func:`decode_tag` would refuse it."""
        decoder = codecs.getincrementaldecoder(self.decl.encoding)()
        offset, first = 0, True
        with self.view.open(rel) as fh:
            while True:
                block = fh.read(_TEXT_BLOCK)
                if first and self.decl.encoding == "utf-8" and block.startswith(codecs.BOM_UTF8):
                    raise _Undecodable("starts with a byte-order mark, which UTF-8 tag files must not")
                pending = len(decoder.getstate()[0])
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    where = offset - pending + exc.start
                    raise _Undecodable(f"not {self.decl.encoding} (bad byte at offset {where})") from None
                offset += len(block)
                yield text.removeprefix("\ufeff") if first else text
                first = False
                if not block:
                    return

    def _lines(self, rel: str) -> Iterator[tuple[int, str, bool]]:
        n, rest = 0, ""
        try:
            for piece in self._decoded(rel):
                text = rest + piece
                # a CR at the end may be the first half of a CRLF: it waits for the next piece (the last is "")
                end = len(text) - 1 if piece and text.endswith("\r") else len(text)
                pos = 0
                for m in _LINE_END.finditer(text, 0, end):
                    n += 1
                    yield n, text[pos : m.start()], True
                    pos = m.end()
                rest = text[pos:]
        except (OSError, zipfile.BadZipFile, _Undecodable) as exc:  # changed since the first read
            self.add(issue("package-unreadable", file=rel, reason=str(exc)))
            return
        if rest:
            yield n + 1, rest, False

    def run(self) -> Report:
        self.report.merge(check_paths(self.files, file=self.view.name, unportable="warning", collisions="warning"))
        self.declaration()
        if not self.view.is_dir(PAYLOAD_DIR):
            self.add(issue("payload-dir-missing", file=self.view.name, path=f"{PAYLOAD_DIR}/"))
        self.bag_info()
        ours = any(label == "Bag-Software-Agent" and value == SOFTWARE for label, value in self.info)
        manifests, expected = self.manifests(ours)
        fetched = self.fetch(manifests, expected)
        self.completeness(manifests, expected, fetched, ours)
        self.fixity(manifests, expected)
        self.oxum()
        if hasattr(self.view, "bag_clean"):  # our views keep it, so later checks need not hash a file again
            self.view.bag_clean = not self.report.issues
        return self.report

    # bagit.txt, §2.1.1
    def declaration(self) -> None:
        if DECLARATION not in self.present:
            self.add(issue("bag-declaration", file=DECLARATION, reason="missing"))
            return
        data = self.read(DECLARATION)
        if data is None:
            return
        decl, problems = parse_declaration(data)
        for severity, reason in problems:
            self.add(issue("bag-declaration", file=DECLARATION, reason=reason, severity=severity))
        if decl is not None:
            self.decl = decl

    # bag-info.txt, §2.2.2
    def bag_info(self) -> None:
        if BAG_INFO not in self.present:
            return
        text = self.text(BAG_INFO)
        if text is None:
            return
        pattern = _INFO_V1 if self.decl.v1 else _INFO_OLD
        fields: list[tuple[str, str]] = []
        for n, line, done in lines(text):
            if not done:
                self.add(issue("bag-info-invalid", file=BAG_INFO, line=n, reason="the last line has no line end"))
            if not line.strip():  # not a metadata element, and no rule against it: only odd
                self.add(issue("bag-info-invalid", file=BAG_INFO, line=n, reason="a blank line", severity="warning"))
                continue
            if line[:1] in (" ", "\t"):
                if not fields:
                    self.add(
                        issue("bag-info-invalid", file=BAG_INFO, line=n, reason="a continuation line before any label")
                    )
                else:
                    label, value = fields[-1]
                    fields[-1] = (label, f"{value} {line.strip()}")
                continue
            m = pattern.match(line)
            if m is None or not m.group(1):
                reason = "expected 'Label: value' (one space or tab after the colon, none before it)"
                self.add(issue("bag-info-invalid", file=BAG_INFO, line=n, reason=reason))
                continue
            fields.append((m.group(1), (m.group(2) or "").strip()))
        self.info = fields
        oxums = [v for label, v in fields if label.lower() == "payload-oxum"]
        if len(oxums) > 1:
            self.add(issue("bag-info-invalid", file=BAG_INFO, reason="Payload-Oxum is given more than once"))
        for value in oxums:
            if not _OXUM.match(value):
                self.add(issue("bag-info-invalid", file=BAG_INFO, reason="Payload-Oxum is not OctetCount.StreamCount"))
        for label, value in fields:
            low = label.lower()
            if low == "bagging-date" and not _DATE.match(value):
                self.add(
                    issue(
                        "bag-info-invalid", file=BAG_INFO, reason="Bagging-Date is not YYYY-MM-DD", severity="warning"
                    )
                )
            elif low == "bag-count" and not _COUNT.match(value):
                self.add(
                    issue("bag-info-invalid", file=BAG_INFO, reason="Bag-Count is not 'N of T'", severity="warning")
                )

    # manifests, §2.1.3 and §2.2.1
    def manifests(self, ours: bool) -> tuple[list[Manifest], Expected]:
        manifests: list[Manifest] = []
        expected = Expected()
        for rel in self.files:
            m = _MANIFEST.match(rel)
            if not m:
                continue
            algo = m.group(2)
            if not _ALGORITHM.match(algo):
                reason = f"{algo!r} is not a normalised algorithm name (lower-case letters and digits)"
                self.add(issue("manifest-invalid", file=rel, line=1, reason=reason))
                continue
            name = _HASHLIB.get(algo, algo)
            if name not in hashlib.algorithms_available:
                self.add(
                    issue(
                        "manifest-invalid", file=rel, line=1, reason=f"unsupported algorithm {algo}; cannot verify it"
                    )
                )
                continue
            rows = self.text_lines(rel)
            if rows is None:
                continue
            if len(manifests) > 255:
                self.add(issue("manifest-invalid", file=rel, line=1, reason="more than 256 manifests"))
                continue
            index = expected.manifest(hashlib.new(name).digest_size)
            manifest = Manifest(rel, bool(m.group(1)), name, index)
            self._entries(manifest, rows, expected)
            manifests.append(manifest)
        if not any(not m.tag for m in manifests):
            self.add(issue("manifest-missing", file="manifest-sha256.txt"))
        self._expect(manifests, ours)
        return manifests, expected

    def _entries(self, manifest: Manifest, rows: Iterable[tuple[int, str, bool]], expected: Expected) -> None:
        size = expected.sizes[manifest.index] * 2
        rel = manifest.name
        for n, line, done in rows:
            if not done:
                self.add(issue("manifest-invalid", file=rel, line=n, reason="the last line has no line end"))
            m = _MANIFEST_LINE.match(line)
            if m is None:
                self.add(
                    issue(
                        "manifest-invalid",
                        file=rel,
                        line=n,
                        reason="expected a hexadecimal checksum, spaces or tabs, and a path",
                    )
                )
                continue
            digest, path = m.group(1), decode_path(m.group(2), self.decl)
            if size and len(digest) != size:
                reason = f"a {manifest.algorithm} checksum has {size} hex digits, not {len(digest)}"
                self.add(issue("manifest-invalid", file=rel, line=n, reason=reason))
                continue
            why = entry_problem(path)
            if why is None and not manifest.tag and not path.startswith(f"{PAYLOAD_DIR}/"):
                why = "a payload manifest lists a file outside data/"
            if why is None and manifest.tag and path.startswith(f"{PAYLOAD_DIR}/"):
                why = "a tag manifest lists a payload file"
            if why is None and manifest.tag and _MANIFEST.match(path) and path.startswith("tagmanifest-"):
                why = "a tag manifest lists a tag manifest"
            if why:
                self.add(issue("unsafe-path", file=rel, line=n, path=path, reason=why))
                continue
            if self.view.is_dir(path):
                self.add(
                    issue("manifest-invalid", file=rel, line=n, reason=f"{path} is a folder; manifests list files")
                )
                continue
            if not expected.add(sys.intern(path), manifest.index, bytes.fromhex(digest)):
                self.add(issue("manifest-invalid", file=rel, line=n, reason=f"{path} is listed twice"))

    def _expect(self, manifests: list[Manifest], ours: bool) -> None:
        names = {m.name for m in manifests}
        if not ours:
            return
        for algo in ALGORITHMS:  # isaprofile bags always carry both algorithms for payload and tags
            if f"manifest-{algo}.txt" not in names and any(not m.tag for m in manifests):
                self.add(issue("manifest-missing", file=f"manifest-{algo}.txt"))
            if f"tagmanifest-{algo}.txt" not in names:
                self.add(issue("tag-manifest-missing", file=f"tagmanifest-{algo}.txt", severity="error"))

    # fetch.txt, §2.2.3
    def fetch(self, manifests: list[Manifest], expected: Expected) -> set[str]:
        listed: set[str] = set()
        if FETCH not in self.present:
            return listed
        text = self.text(FETCH)
        if text is None:
            return listed
        payload = [m for m in manifests if not m.tag]
        for n, line, done in lines(text):
            if not done:
                self.add(issue("fetch-invalid", file=FETCH, line=n, reason="the last line has no line end"))
            m = _FETCH_LINE.match(line)
            if m is None:
                self.add(issue("fetch-invalid", file=FETCH, line=n, reason="expected 'url length path'"))
                continue
            url, length, path = m.group(1), m.group(2), decode_path(m.group(3), self.decl)
            reasons = []
            if not _URI.match(url):
                reasons.append("the URL is not an absolute URI")
            if length != "-" and not length.isdigit():
                reasons.append("the length is neither a number nor '-'")
            why = entry_problem(path)
            if why:
                reasons.append(f"the target is {why}")
            elif not path.startswith(f"{PAYLOAD_DIR}/"):
                reasons.append("the target is not a payload file (fetch.txt must not list tag files)")
            else:
                missing = [mf.name for mf in payload if not expected.listed_by(path, mf.index)]
                if missing:
                    reasons.append(f"the target is not listed in {', '.join(missing)}")
            if reasons:
                self.add(issue("fetch-invalid", file=FETCH, line=n, path=path, reason="; ".join(reasons)))
                continue
            listed.add(path)
            if path in self.present and length.isdigit() and self.view.size(path) != int(length):
                got = self.view.size(path)
                self.add(issue("fetch-length-mismatch", file=FETCH, line=n, path=path, expected=length, found=got))
        return listed

    # completeness, §3
    def completeness(self, manifests: list[Manifest], expected: Expected, fetched: set[str], ours: bool) -> None:
        payload = [f for f in self.files if f.startswith(f"{PAYLOAD_DIR}/")]
        names = {m.name for m in manifests}
        tags = [f for f in self.files if not f.startswith(f"{PAYLOAD_DIR}/") and f not in names]
        payload_manifests = [m for m in manifests if not m.tag]
        missing: list[tuple[int, str]] = []
        for path in expected.blobs:
            if path not in self.present:
                missing.extend((index, path) for index, _ in expected.entries(path))
        for index, path in sorted(missing):
            code = "fetch-pending" if path in fetched else "file-missing-from-payload"
            self.add(issue(code, file=manifests[index].name, path=path))
        for mf in manifests:
            if mf.tag:
                for pm in payload_manifests:
                    if not expected.listed_by(pm.name, mf.index):
                        self.add(issue("tag-manifest-incomplete", file=mf.name, path=pm.name))
                severity = "error" if ours else "warning"
                for path in tags:
                    if not _MANIFEST.match(path) and not expected.listed_by(path, mf.index):
                        self.add(issue("tag-file-unlisted", file=mf.name, path=path, severity=severity))
            elif self.decl.v1:
                for path in payload:
                    if not expected.listed_by(path, mf.index):
                        self.add(issue("unexpected-file", file=mf.name, path=path))
        if not self.decl.v1 and payload_manifests:  # before 1.0, one manifest listing a file was enough
            for path in payload:
                if not any(not manifests[i].tag for i, _ in expected.entries(path)):
                    listing = ", ".join(m.name for m in payload_manifests)
                    self.add(issue("unexpected-file", file=listing, path=path))

    # fixity, §3
    def fixity(self, manifests: list[Manifest], expected: Expected) -> None:
        todo = [p for p in sorted(expected.blobs) if p in self.present]
        algos = sorted({m.algorithm for m in manifests})
        checked = 0
        octets = 0
        for path, got in zip(todo, self._digests(todo, algos), strict=True):
            if isinstance(got, str):
                self.add(issue("package-unreadable", file=path, reason=got))
                continue
            checked += 1
            octets += got.size
            for index, want in expected.entries(path):
                algo = manifests[index].algorithm
                found = got.hexdigest(algo)
                if bytes.fromhex(found) != want:
                    self.add(
                        issue("fixity-mismatch", file=manifests[index].name, path=path, algorithm=algo,
                              expected=want.hex(), found=found)
                    )  # fmt: skip
        self.report.stats.update(files_checked=checked, bytes_checked=octets)

    def _digests(self, paths: list[str], algos: list[str]) -> Iterable[FileDigest | str]:
        view = self.view
        if isinstance(view, FolderView):
            total = sum(view.size(p) for p in paths)
            root = str(view.root)
            return iter_file_digests(paths, algos, workers=self.workers, total_bytes=total, progress=self.progress,
                                     root=root)  # fmt: skip
        return (self._zip_digest(p, algos) for p in paths)

    def _zip_digest(self, rel: str, algos: list[str]) -> FileDigest | str:
        try:
            with self.view.open(rel) as fh:
                return hash_stream(fh, algos, progress=self.progress)
        except (OSError, zipfile.BadZipFile) as exc:
            return str(exc)

    def oxum(self) -> None:
        values = [v for label, v in self.info if label.lower() == "payload-oxum"]
        if len(values) != 1 or not _OXUM.match(values[0]):
            return
        payload = [f for f in self.files if f.startswith(f"{PAYLOAD_DIR}/")]
        found = payload_oxum(sum(self.view.size(p) for p in payload), len(payload))
        if values[0] != found:
            self.add(issue("oxum-mismatch", file=BAG_INFO, expected=values[0], found=found))


def verify_bag(view: PackageView, *, workers: int | None = None, progress: Progress | None = None) -> Report:
    """Check one bag by every rule of RFC 8493 a reader can check (see the module docstring)."""
    return _Bag(view, workers, progress).run()


def verify_one(
    path: Path,
    *,
    checks: Iterable[Check] = (),
    workers: int | None = None,
    limits: ZipLimits | None = None,
    progress: Progress | None = None,
) -> Report:
    """Verify one bag, a folder or a zip file, then run ``checks`` on it."""
    if path.is_dir() and not path.is_symlink():
        view = FolderView(path)
        report = view.report
        report.merge(verify_bag(view, workers=workers, progress=progress))
        return report.merge(run_checks(view, checks))
    if path.is_file() and not path.is_symlink():
        try:
            safe = SafeZip(path, limits)
        except PackageError as exc:
            return Report([issue("package-unreadable", file=str(path), reason=exc.issue.message)])
        with safe:
            zview = ZipView(safe)
            report = Report(list(safe.report.issues))
            report.merge(verify_bag(zview, workers=workers, progress=progress))
            return report.merge(run_checks(zview, checks))
    return Report([issue("package-unreadable", file=str(path), reason="not a folder or a zip file")])
