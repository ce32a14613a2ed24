"""The `files` source: the accounting package's CSV export in one directory (DESIGN section 6).

Rows are streamed: the csv module reads a text wrapper over the open file, so memory stays flat
whatever the file size. Decoding is lenient (surrogateescape), and a thin layer under the
wrapper checks every block of bytes as it streams past: the first byte that is not UTF-8 text
(or a NUL) raises a flag, after which rows are searched for it, so it is reported with the line
and column it sits in at no cost to files without one. Quoting problems are located by reading
the file again from the offending record, which costs nothing on the path that works.
Line numbers are the csv module's: LF, CRLF and a lone CR each end a line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import stat
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import closing
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from .base import COLUMNS, KEY_COLUMN, OPTIONAL_COLUMNS, Entity, SourceError, SourceRow

__all__ = ["FILE_NAMES", "MAX_LINE_BYTES", "FilesSource"]

FILE_NAMES: dict[Entity, str] = {
    "customer": "customers.csv",
    "invoice": "invoices.csv",
    "payment_condition": "payment_conditions.csv",
}

# A physical line longer than this is refused rather than held in memory (a file without line
# breaks, say). Far above anything the csv module's own field limit lets through.
MAX_LINE_BYTES = 8 * 1024 * 1024

# What a non-text byte looks like after lenient decoding: surrogateescape turns 0x80..0xFF
# into U+DC80..U+DCFF, and NUL stays NUL (the csv module of Python 3.11 passes it through).
_MARK = re.compile("[\x00\udc80-\udcff]")


class FilesSource:
    """Reads customers.csv, invoices.csv and payment_conditions.csv from one directory.

    Nothing touches the disk until a method is called, so a source can be configured before its
    first export arrives. Every call reads the files afresh.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FilesSource({str(self.directory)!r})"

    def path(self, entity: Entity) -> Path:
        return self.directory / FILE_NAMES[entity]

    def payment_conditions(self) -> Iterator[SourceRow]:
        return self.rows("payment_condition")

    def invoices(self) -> Iterator[SourceRow]:
        return self.rows("invoice")

    def customers(self) -> Iterator[SourceRow]:
        return self.rows("customer")

    def rows(self, entity: Entity) -> Iterator[SourceRow]:
        return _read_rows(self.path(entity), entity)

    def find(self, entity: Entity, key: str) -> SourceRow | None:
        """The first row whose key column equals key, by a full scan of the file.

        Keys compare without surrounding spaces, as the import stages them."""
        column = KEY_COLUMN[entity]
        key = key.strip()
        with closing(_read_rows(self.path(entity), entity)) as rows:
            for row in rows:
                if row.data[column].strip() == key:
                    return row
        return None

    def fingerprint(self) -> str:
        """A hash of the three files' names, sizes, mtimes and inodes (a stat each, no reads).

        A missing file or directory is part of the state rather than an error, so that a
        watcher notices when the export appears; reading it then reports what is missing.
        """
        digest = hashlib.sha256()
        for name in FILE_NAMES.values():
            path = self.directory / name
            try:
                st = path.stat()
            except (FileNotFoundError, NotADirectoryError):
                digest.update(f"{name}:absent\n".encode())
            except OSError as exc:
                raise SourceError(
                    f"the file cannot be examined ({exc.strerror or exc})", file=str(path)
                ) from None
            else:
                digest.update(f"{name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}\n".encode())
        return digest.hexdigest()

    def content_hash(self) -> str | None:
        """A hash of the three files' names and bytes (a missing one counts as absent); None
        when one is not a regular file (a pipe, say), which reading it twice would empty."""
        digest = hashlib.sha256()
        for name in FILE_NAMES.values():
            path = self.directory / name
            try:
                if not stat.S_ISREG(path.stat().st_mode):
                    return None
                with open(path, "rb") as file:
                    content = hashlib.file_digest(file, "sha256").hexdigest()
            except (FileNotFoundError, NotADirectoryError):
                content = "absent"
            except OSError as exc:
                raise SourceError(
                    f"the file cannot be read ({exc.strerror or exc})", file=str(path)
                ) from None
            digest.update(f"{name}:{content}\n".encode())
        return digest.hexdigest()


def _open(path: Path) -> BinaryIO:
    file = str(path)
    try:
        return open(path, "rb")
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise SourceError(
                "the export directory does not exist", file=str(path.parent)
            ) from None
        raise SourceError("the file does not exist", file=file) from None
    except IsADirectoryError:
        raise SourceError("is a directory, not a file", file=file) from None
    except OSError as exc:
        raise SourceError(f"the file cannot be opened ({exc.strerror or exc})", file=file) from None


class _TextCheck(io.RawIOBase):
    """Passes the file's bytes through unchanged, noting the line of the first one that is not
    UTF-8 text or is a NUL, and refusing a line longer than MAX_LINE_BYTES."""

    def __init__(self, raw: BinaryIO, file: str) -> None:
        super().__init__()
        self._raw = raw
        self._file = file
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._line = 1  # the line the next byte belongs to (counting LF only)
        self._line_bytes = 0
        self.bad_line: int | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._raw.read(len(buffer))
        size = len(chunk)
        buffer[:size] = chunk
        if self.bad_line is None:
            self._check(chunk, final=size == 0)
        last = chunk.rfind(b"\n")
        self._line_bytes = self._line_bytes + size if last < 0 else size - last - 1
        if self._line_bytes > MAX_LINE_BYTES:
            raise SourceError(
                f"the line is longer than {MAX_LINE_BYTES} bytes; is this a CSV export?",
                file=self._file,
                line=self._line + chunk.count(b"\n"),
            )
        self._line += chunk.count(b"\n")
        return size

    def _check(self, chunk: bytes, *, final: bool) -> None:
        bad = chunk.find(b"\0")
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            at = max(0, exc.start - pending)
            bad = at if bad < 0 else min(bad, at)
        if bad >= 0:
            self.bad_line = self._line + chunk.count(b"\n", 0, bad)


def _text(raw: BinaryIO, check: _TextCheck | None = None) -> io.TextIOWrapper:
    """Lenient text over raw: BOM stripped, bad bytes kept as lone surrogates, newlines kept."""
    buffered = io.BufferedReader(check, 1 << 16) if check is not None else raw
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _read_rows(path: Path, entity: Entity) -> Generator[SourceRow, None, None]:
    """Open, check and parse in one generator: nesting generators adds some 10% per row."""
    file = str(path)
    with _open(path) as raw:
        check = _TextCheck(raw, file)
        reader = csv.reader(_text(raw, check), strict=True)
        try:
            try:
                header = next(reader)
            except StopIteration:
                raise SourceError("the file is empty; expected a header row", file=file) from None
            except csv.Error as exc:
                raise _csv_problem(exc, path, 1, check, None) from None
            if check.bad_line is not None:  # somewhere in the block read so far
                problem = _bad_bytes(header, 1, None, file)
                if problem is not None:
                    raise problem
            if not header:
                raise SourceError(
                    "the first line is empty; expected the header row", file=file, line=1
                )
            names = [name.strip() for name in header]
            cols, getter, pad = _layout(names, entity, file)
            width = len(header)

            last = reader.line_num  # the line the previous record ended on
            try:
                for row in reader:
                    line = last + 1
                    last = reader.line_num
                    if check.bad_line is not None:
                        problem = _bad_bytes(row, line, names, file)
                        if problem is not None:
                            raise problem
                    if len(row) != width:
                        if not row:  # a blank line
                            continue
                        raise SourceError(
                            f"expected {width} fields (as in the header) but found {len(row)}",
                            file=file,
                            line=line,
                        )
                    if pad:
                        row.append("")
                    yield SourceRow(line, dict(zip(cols, getter(row), strict=False)))
            except csv.Error as exc:
                raise _csv_problem(exc, path, last + 1, check, names) from None
            if check.bad_line is not None:  # only if the bad byte sat in no row at all
                raise _unlocated(check.bad_line, file)
        except OSError as exc:
            raise SourceError(f"reading failed ({exc.strerror or exc})", file=file) from None


def _layout(
    names: list[str], entity: Entity, file: str
) -> tuple[tuple[str, ...], Callable[[list[str]], tuple[str, ...]], bool]:
    """Which field feeds each DESIGN column; absent optional columns read the padded ""."""
    position: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in position and name in COLUMNS[entity]:
            raise SourceError(
                "the column appears twice in the header", file=file, line=1, column=name
            )
        position.setdefault(name, index)
    cols = COLUMNS[entity]
    missing = [c for c in cols if c not in position and c not in OPTIONAL_COLUMNS[entity]]
    if missing:
        reason = "the header lacks this required column"
        if len(missing) > 1:
            reason += " (and " + ", ".join(f"'{c}'" for c in missing[1:]) + ")"
        if len(names) == 1 and ";" in names[0]:
            reason += "; the header looks separated by semicolons, but the export must use commas"
        raise SourceError(reason, file=file, line=1, column=missing[0])
    pad_index = len(names)
    getter = itemgetter(*(position.get(c, pad_index) for c in cols))
    return cols, getter, any(c not in position for c in cols)


def _bad_bytes(row: list[str], line: int, names: list[str] | None, file: str) -> SourceError | None:
    """The first non-text byte in a row that starts on `line`, with its line and column."""
    for index, value in enumerate(row):
        found = _MARK.search(value)
        if found is not None:
            at = line + _line_breaks(value[: found.start()])
            column = names[index] if names is not None and index < len(names) else None
            return SourceError(_reason_for(found.group()), file=file, line=at, column=column)
        line += _line_breaks(value)
    return None


def _line_breaks(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _unlocated(line: int, file: str) -> SourceError:
    return SourceError(_reason_for(None), file=file, line=line)


def _reason_for(mark: str | None) -> str:
    if mark == "\0":
        return "the line contains a NUL byte (0x00), which a text export never holds"
    if mark is None:
        return "the line is not valid UTF-8 text; export the file as UTF-8"
    byte = ord(mark) - 0xDC00
    return f"the text is not valid UTF-8 (byte 0x{byte:02X}); export the file as UTF-8"


# Quoting problems -------------------------------------------------------------------------------

_UNQUOTED_STOP = re.compile(r"[,\r\n]")


def _csv_problem(
    exc: csv.Error, path: Path, start: int, check: _TextCheck, names: list[str] | None
) -> SourceError:
    file = str(path)
    if check.bad_line is not None:  # a file in the wrong encoding is the likelier root cause
        return _unlocated(check.bad_line, file)
    try:
        with open(path, "rb") as raw:
            lines = enumerate(_text(raw), 1)
            found = _scan_record((n, t) for n, t in lines if n >= start)
    except OSError:
        found = None
    if found is None:
        if "field larger than field limit" in str(exc):
            reason = f"a value is longer than {csv.field_size_limit()} characters"
        else:
            reason = f"the line is not valid CSV ({exc})"
        return SourceError(reason, file=file, line=start)
    problem, line, field, quote_line = found
    column = names[field] if names is not None and field < len(names) else None
    if problem == "unclosed":
        reason = "a quoted value starts here but its closing quote is missing"
    else:
        reason = "a quoted value is followed by other text; a quote inside a value must be doubled"
        if quote_line != line:
            reason += f" (the quoted value opens on line {quote_line})"
    return SourceError(reason, file=file, line=line, column=column)


def _scan_record(lines: Iterable[tuple[int, str]]) -> tuple[str, int, int, int] | None:
    """The first quoting problem of the record starting at the first line given.

    Follows the csv module's strict rules for the default dialect and returns (problem, line,
    field index, line where the current quoted value opened), or None when the record is fine.
    Lines come from a text wrapper with newline="", so a CR or LF only ever ends a line.
    """
    field = 0
    quote_line = 0
    state = "start"  # start | unquoted | quoted | after_quote
    for number, text in lines:
        i, n = 0, len(text)
        while i < n:
            if state == "quoted":
                j = text.find('"', i)
                if j < 0:
                    break
                if j + 1 < n and text[j + 1] == '"':
                    i = j + 2
                    continue
                state, i = "after_quote", j + 1
                continue
            c = text[i]
            if state == "start" and c == '"':
                state, quote_line, i = "quoted", number, i + 1
                continue
            if state == "after_quote" and c not in ",\r\n":
                return "after_quote", number, field, quote_line
            state = "unquoted"
            found = _UNQUOTED_STOP.search(text, i)
            if found is None:
                break
            if found.group() != ",":
                return None  # the record ends with this line
            field, state, i = field + 1, "start", found.end()
    if state == "quoted":
        return "unclosed", quote_line, field, quote_line
    return None
