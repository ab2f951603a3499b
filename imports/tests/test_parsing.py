"""Reading CSV files as spreadsheets write them. Pure: no database."""

import io

import pytest

from imports.parsing import CsvProblem, inspect_csv, iter_rows, safe_cell, sniff_delimiter


def inspect(text: str, encoding: str = "utf-8", **kwargs):
    return inspect_csv(io.BytesIO(text.encode(encoding)), **kwargs)


def test_a_dutch_excel_file_is_read_with_its_bom_and_semicolons():
    inspection = inspect("\ufeffE-mailadres;Voornaam\r\nsanne@kroon.nl;Sanne\r\n")

    assert inspection.delimiter == ";"
    assert inspection.headers == ["E-mailadres", "Voornaam"]
    assert inspection.rows == 1
    assert inspection.sample == [["sanne@kroon.nl", "Sanne"]]


def test_a_comma_separated_file_without_bom_is_read_too():
    inspection = inspect('email,company\nbram@kroon.nl,"Kroon, Bouw & Zn"\n')

    assert inspection.delimiter == ","
    assert inspection.sample == [["bram@kroon.nl", "Kroon, Bouw & Zn"]]


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [("a;b;c", ";"), ("a,b,c", ","), ("a\tb", "\t"), ("email", ","), ("a;b,c;d", ";")],
)
def test_the_separator_is_the_one_the_header_line_uses_most(header, delimiter):
    assert sniff_delimiter(header) == delimiter


def test_a_chosen_separator_overrides_the_guess():
    inspection = inspect("email;name,with,commas\nx@y.nl;Jan\n", delimiter=";")

    assert inspection.headers == ["email", "name,with,commas"]


def test_a_file_in_windows_1252_is_refused_with_how_to_save_as_utf8():
    with pytest.raises(CsvProblem) as problem:
        inspect("email;achternaam\nx@y.nl;Hoëvenaars\n", encoding="cp1252")

    assert "UTF-8" in str(problem.value) and "CSV UTF-8" in str(problem.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("\ufeff\r\n\r\n", "empty"),
        ("email;naam\n", "no rows"),
        ("jan@kroon.nl;Jan\npiet@kroon.nl;Piet\n", "e-mail address"),
        ("email;Naam;naam\nx@y.nl;a;b\n", '"naam" appears more than once'),
        # An unclosed quote swallows the rest of the file into one cell.
        ('email;naam\nx@y.nl;"unclosed\n' + "y@z.nl;Jan\n" * 100_000, "Line 2 cannot be read"),
    ],
)
def test_a_file_that_cannot_be_imported_gets_a_clear_message(text, message):
    with pytest.raises(CsvProblem) as problem:
        inspect(text)

    assert message in str(problem.value)


def test_blank_rows_are_skipped_and_rows_are_numbered_as_a_spreadsheet_numbers_them():
    text = 'email;need\na@kroon.nl;x\n;\nb@kroon.nl;"two\nlines"\nc@kroon.nl;y\n'

    rows = list(iter_rows(io.BytesIO(text.encode()), delimiter=";"))

    assert [(number, cells[0]) for number, cells in rows] == [
        (2, "a@kroon.nl"), (4, "b@kroon.nl"), (5, "c@kroon.nl"),
    ]  # fmt: skip
    assert inspect(text).rows == 3


def test_trailing_empty_header_cells_from_excel_are_allowed():
    assert inspect("email;naam;;\nx@y.nl;Jan;;\n").headers == ["email", "naam", "", ""]


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+31 6 1234", "'+31 6 1234"),
        ("-2", "-2"),  # a plain number runs nothing
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("Sanne", "Sanne"),
        (17, "17"),
        (None, ""),
    ],
)
def test_cells_a_spreadsheet_would_run_as_a_formula_are_written_as_text(value, cell):
    assert safe_cell(value) == cell
