"""Defences against hostile files: size caps, zip bombs, unsafe names, XML tricks, formulas.

A round arrives from planners' desktops and from HTTP uploads, so every reader assumes the
file may be malicious:

* sizes are capped (:data:`MAX_BYTES`) *before* anything is read or decompressed;
* a ``.zip`` or ``.xlsx`` is inspected from its central directory before a single member
  is decompressed: number of members, total uncompressed size, compression ratio of each
  member (a "zip bomb" inflates a few kilobytes into gigabytes), and member names (no
  absolute paths, no ``..``, no drive letters). Members are read into memory, never
  extracted to disk, and every read is bounded again in case the directory lies;
* workbook XML never reaches a parser that expands entities: :func:`ensure_defused_xml`
  insists that openpyxl parses through defusedxml, and :func:`refuse_xml_declarations`
  refuses any part that declares a DTD or entities (OOXML never needs one);
* a service may cap a round's size (:class:`SizeLimits`): pharmacists and placements are
  counted before the records are validated, eligible triples after, and a round above a
  cap is refused with :class:`TooLarge`;
* cells written to CSV or Excel that a spreadsheet would run as a formula (text starting
  with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) are prefixed with a single
  quote (:func:`neutralise`), and the readers strip exactly that prefix again
  (:func:`unneutralise`), so round trips are exact.
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from matcher.errors import FormatError, Problem

MAX_BYTES = 50 * 1024 * 1024
"""Largest file, and largest total uncompressed content of a .zip or .xlsx, in bytes."""
MAX_MEMBERS = 1000
"""Most members (files) a .zip or .xlsx may hold."""
MAX_RATIO = 100
"""Largest uncompressed/compressed ratio of one member above :data:`RATIO_FLOOR` bytes."""
RATIO_FLOOR = 1024 * 1024
"""Members smaller than this (uncompressed) are not ratio-checked: tiny files compress well."""

_CHUNK = 1024 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NEUTRALISED = re.compile(r"^'+[=+\-@\t\r]")
_XML_DECLARATIONS = (b"<!DOCTYPE", b"<!ENTITY")
_XML_PARTS = (".xml", ".rels", ".vml")


def refuse(message: str, source: str | None, code: str) -> FormatError:
    """A :class:`FormatError` carrying one problem about a whole file."""
    return FormatError([Problem(message, source=source, code=code)])


def human_size(n: int) -> str:
    """A byte count in the unit a planner reads (``"50 MB"``)."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} bytes"


def check_size(
    size: int, source: str | None, *, limit: int = MAX_BYTES, what: str = "the file is"
) -> None:
    """Refuse a file (or upload) larger than ``limit`` bytes."""
    if size > limit:
        raise refuse(
            f"{what} {human_size(size)}, above the {human_size(limit)} limit; split the "
            "round or remove unused rows",
            source,
            "too_large",
        )


class TooLarge(FormatError):
    """A round above a size cap (:class:`SizeLimits`): it was not validated any further."""


@dataclass(frozen=True, slots=True)
class SizeLimits:
    """Most records a round may have where it is read (a service's admission limits).

    ``None`` is no cap. Pharmacists and placements are counted as the reader meets them
    (rows of a sheet or CSV file, entries of a JSON list), before any record is validated,
    so a round far above the cap costs little to refuse; ``candidates`` (eligible
    pharmacist, placement and period triples, what a solve's size follows) is counted once
    the round is valid.
    """

    pharmacists: int | None = None
    placements: int | None = None
    candidates: int | None = None

    def check_counts(self, counts: Mapping[str, int], source: str | None) -> None:
        """Refuse (:class:`TooLarge`, every cap exceeded at once) when a count is above its
        cap; ``counts`` maps ``pharmacists`` and ``placements`` to how many there are."""
        problems = [
            Problem(f"the round has {counts[name]:,} {name}; at most {limit:,} are accepted "
                    "here: split the round", source=source, list=name, code=f"too_many_{name}")
            for name, limit in (("pharmacists", self.pharmacists),
                                ("placements", self.placements))
            if limit is not None and counts.get(name, 0) > limit
        ]
        if problems:
            raise TooLarge(problems)

    def check_document(self, document: Any, source: str | None) -> None:
        """:meth:`check_counts` on a JSON-like round (its lists' lengths)."""
        if isinstance(document, Mapping):
            self.check_counts({name: len(document[name]) for name in ("pharmacists",
                                                                      "placements")
                               if isinstance(document.get(name), list)}, source)

    def check_candidates(self, count: int, source: str | None) -> None:
        """Refuse a valid round with more eligible triples than ``candidates``."""
        if self.candidates is not None and count > self.candidates:
            raise TooLarge([Problem(
                f"the round has {count:,} eligible (pharmacist, placement, period) "
                f"combinations; at most {self.candidates:,} are accepted here: split the "
                "round, or narrow travel limits and requirements", source=source,
                code="too_many_candidates")])


# ---- zip archives (CSV bundles and .xlsx workbooks) ----------------------------------------


def open_zip(
    file: IO[bytes],
    source: str,
    *,
    what: str = "zip archive",
    limit: int = MAX_BYTES,
    max_members: int = MAX_MEMBERS,
    max_ratio: int = MAX_RATIO,
) -> zipfile.ZipFile:
    """Open a zip archive and check it is safe to read before any member is decompressed.

    Refuses (with :class:`FormatError`) an archive that is not a zip, has too many members,
    declares more than ``limit`` bytes of content in total, holds a member compressed more
    than ``max_ratio`` to 1, is encrypted, or names a member with an absolute path, a drive
    letter, a backslash or ``..``.
    """
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        raise refuse(f"the file is not a valid {what}", source, "bad_zip") from None
    try:
        check_members(archive.infolist(), source, what=what, limit=limit,
                      max_members=max_members, max_ratio=max_ratio)
    except FormatError:
        archive.close()
        raise
    return archive


def check_members(
    members: Iterable[zipfile.ZipInfo],
    source: str,
    *,
    what: str = "zip archive",
    limit: int = MAX_BYTES,
    max_members: int = MAX_MEMBERS,
    max_ratio: int = MAX_RATIO,
) -> None:
    """Check a zip's directory entries: count, total size, ratios, encryption and names."""
    infos = list(members)
    if len(infos) > max_members:
        raise refuse(
            f"the {what} holds {len(infos)} files, more than the {max_members} allowed",
            source,
            "too_many_members",
        )
    total = 0
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if unsafe_member_name(name):
            raise refuse(
                f"the {what} contains a file with an unsafe name ({_shown(name)}): absolute "
                "paths and '..' are not allowed",
                source,
                "unsafe_name",
            )
        if name in seen:
            raise refuse(f"the {what} contains {_shown(name)} twice", source, "duplicate_member")
        seen.add(name)
        if info.flag_bits & 0x1:
            raise refuse(f"the {what} is encrypted; save it without a password", source,
                         "encrypted")
        total += info.file_size
        if total > limit:
            raise refuse(
                f"the {what} unpacks to more than the {human_size(limit)} limit; refused as a "
                "possible zip bomb",
                source,
                "too_large",
            )
        if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(
            info.compress_size, 1
        ):
            ratio = info.file_size // max(info.compress_size, 1)
            raise refuse(
                f"{_shown(name)} in the {what} is compressed {ratio} to 1 (the limit is "
                f"{max_ratio} to 1); refused as a possible zip bomb",
                source,
                "zip_bomb",
            )


def unsafe_member_name(name: str) -> bool:
    """Whether a zip member name could escape the folder it would be extracted into."""
    if not name or "\\" in name or "\x00" in name:
        return True
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return True
    return ".." in PurePosixPath(name).parts


def read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, source: str, *, limit: int = MAX_BYTES
) -> bytes:
    """Read one member into memory, refusing if it inflates beyond its declared size or ``limit``.

    The directory was checked by :func:`open_zip`; reading is bounded again because a forged
    directory could understate a member's size.
    """
    bound = min(info.file_size, limit)
    try:
        with archive.open(info) as member:
            data = member.read(bound + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise refuse(
            f"{_shown(info.filename)} cannot be read from the archive ({_reason(exc)})",
            source,
            "bad_zip",
        ) from None
    if len(data) > bound:
        raise refuse(
            f"{_shown(info.filename)} unpacks to more than its declared size; refused as a "
            "possible zip bomb",
            source,
            "zip_bomb",
        )
    return data


def refuse_xml_declarations(archive: zipfile.ZipFile, source: str) -> None:
    """Refuse a workbook whose XML parts declare a DTD or entities (billion laughs, XXE).

    Office Open XML never uses a document type declaration, so any is hostile. This is a
    second line of defence: openpyxl also parses through defusedxml (:func:`ensure_defused_xml`).
    """
    for info in archive.infolist():
        if info.is_dir() or not info.filename.lower().endswith(_XML_PARTS):
            continue
        try:
            declares = _declares_xml_entities(archive, info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise refuse(
                f"the workbook part {_shown(info.filename)} is damaged ({_reason(exc)})",
                source,
                "bad_workbook",
            ) from None
        if declares:
            raise refuse(
                f"the workbook part {_shown(info.filename)} declares XML entities or a DTD, "
                "which workbooks never need; refused as a possible XML attack",
                source,
                "unsafe_xml",
            )


def _declares_xml_entities(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    overlap = max(len(d) for d in _XML_DECLARATIONS)
    tail = b""
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            window = tail + chunk
            if any(d in window for d in _XML_DECLARATIONS):
                return True
            tail = window[-overlap:]
    return False


def ensure_defused_xml(source: str | None = None) -> None:
    """Refuse to read workbooks unless openpyxl parses XML through defusedxml."""
    import openpyxl.xml  # lazy: openpyxl loads only when a workbook is read or written

    if not openpyxl.xml.DEFUSEDXML:
        raise refuse(
            "reading Excel workbooks needs the 'defusedxml' package (and OPENPYXL_DEFUSEDXML "
            "not set to False) so hostile XML cannot be expanded; install it",
            source,
            "unsafe_xml",
        )


# ---- formula injection ------------------------------------------------------------------------


def neutralise(text: str) -> str:
    """Text a spreadsheet will show as text, never run as a formula.

    Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading
    single quote; so does text that already looks neutralised (quotes followed by one of
    those), which keeps :func:`unneutralise` an exact inverse.
    """
    if text.startswith(_FORMULA_START) or _NEUTRALISED.match(text):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    """Undo :func:`neutralise`: drop the one leading quote it adds, and only that."""
    if _NEUTRALISED.match(text):
        return text[1:]
    return text


def write_atomic(path: Path, content: bytes) -> None:
    """Write a file so that it is either replaced whole or left as it was."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; give it the mode a plain open() would have.
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process umask, read from /proc where possible (os.umask would change it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _shown(name: str) -> str:
    """A member name safe to echo in a message (truncated, control characters escaped)."""
    return repr(name[:80])


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:120]
