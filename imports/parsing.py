"""Reading CSV files as spreadsheets write them, and writing CSV that spreadsheets read safely.

Pure functions over binary streams, no ORM. Problems a person can fix in their file raise
CsvProblem with a message fit to show them.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _

from leads.services.export import neutralise_formula

# Dutch Excel writes ";", English Excel ",", "Unicode text" exports a tab.
DELIMITERS = (";", ",", "\t")
SAMPLE_ROWS = 3
# csv's default field limit (128 KiB) is far above any lead field; a larger cell is a broken
# file (an unclosed quote swallowing the rest), and saying so beats importing garbage.
csv.field_size_limit(1024 * 1024)


class CsvProblem(ValueError):
    """The file cannot be imported as it is; the message says why and what to do."""


@dataclass(frozen=True)
class CsvInspection:
    delimiter: str
    headers: list[str]
    rows: int
    sample: list[list[str]]


def not_utf8_message() -> str:
    return _(
        "This file is not saved as UTF-8, so letters such as ë or é would come out garbled. "
        'In Excel choose File, Save As, and pick "CSV UTF-8 (Comma delimited)"; in LibreOffice '
        'tick "Edit filter settings" and choose "Unicode (UTF-8)". Then upload it again.'
    )


@contextmanager
def text_stream(binary: IO[bytes]) -> Iterator[io.TextIOWrapper]:
    """`binary` read as UTF-8 text, with or without the byte order mark Excel writes."""
    binary.seek(0)
    wrapper = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    try:
        yield wrapper
    finally:
        # Detach, or closing the wrapper would close the caller's file too.
        wrapper.detach()


def sniff_delimiter(header_line: str) -> str:
    """The separator the header line uses most; a one-column file gets a comma."""
    counts = {delimiter: header_line.count(delimiter) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _records(text: io.TextIOWrapper, delimiter: str | None) -> tuple[str, Iterator[list[str]]]:
    first_line = text.readline()
    delimiter = delimiter or sniff_delimiter(first_line)
    reader = csv.reader(itertools.chain([first_line], text), delimiter=delimiter)
    return delimiter, reader


def clean_headers(cells: list[str]) -> list[str]:
    """Header cells trimmed; refuses a missing header row and duplicate column names."""
    headers = [" ".join(cell.split()) for cell in cells]
    named = [header for header in headers if header]
    if not named:
        raise CsvProblem(_("The first row must name the columns, but it is empty."))
    if any("@" in header for header in named):
        raise CsvProblem(
            _(
                "The first row must name the columns (such as email, first_name), but it "
                "holds an e-mail address. Add a header row and upload the file again."
            )
        )
    seen: set[str] = set()
    for header in named:
        if header.casefold() in seen:
            raise CsvProblem(
                _('Each column needs its own name, but "%(name)s" appears more than once.')
                % {"name": header}
            )
        seen.add(header.casefold())
    return headers


def inspect_csv(binary: IO[bytes], *, delimiter: str | None = None) -> CsvInspection:
    """Read the whole file once: encoding, separator, headers, and every row parses.

    Raises CsvProblem naming the first problem, so nothing is stored for a file that cannot
    be imported.
    """
    rows = 0
    sample: list[list[str]] = []
    read_lines = 0  # lines of complete records: the next record starts after them
    try:
        with text_stream(binary) as text:
            delimiter, reader = _records(text, delimiter)
            header = next(reader, None)
            if header is None or _is_blank(header):
                raise CsvProblem(_("The file is empty."))
            headers = clean_headers(header)
            read_lines = reader.line_num
            for cells in reader:
                read_lines = reader.line_num
                if _is_blank(cells):
                    continue
                rows += 1
                if len(sample) < SAMPLE_ROWS:
                    sample.append(cells)
    except UnicodeDecodeError as error:
        raise CsvProblem(not_utf8_message()) from error
    except csv.Error as error:
        raise CsvProblem(
            _("Line %(line)s cannot be read as CSV (%(error)s). Check its quotes.")
            % {"line": read_lines + 1, "error": error}
        ) from error
    if not rows:
        raise CsvProblem(_("The file has a header row but no rows of data."))
    return CsvInspection(delimiter=delimiter, headers=headers, rows=rows, sample=sample)


def iter_rows(binary: IO[bytes], *, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells) of every non-blank data row, in file order.

    The header is row 1 and the first data row is row 2, as a spreadsheet numbers them.
    """
    with text_stream(binary) as text:
        _delimiter, reader = _records(text, delimiter)
        next(reader, None)
        for number, cells in enumerate(reader, start=2):
            if not _is_blank(cells):
                yield number, cells


def batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def safe_cell(value: object) -> str:
    """`value` as a CSV cell a spreadsheet shows as text and never runs as a formula, by the
    same rule as every other export."""
    return neutralise_formula("" if value is None else str(value))
