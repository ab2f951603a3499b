"""Suggesting a column mapping and reading a row as capture input. Pure: no database."""

from consent.services import ConsentGiven
from imports.mapping import (
    PurposeNames,
    header_set_key,
    mapping_problems,
    normalise_header,
    row_input,
    suggest_mapping,
)

PURPOSES = [
    PurposeNames("marketing_email", ("Newsletter and offers by e-mail", "Nieuwsbrief")),
    PurposeNames("phone_contact", ("Contact by phone", "Telefonisch contact")),
]


def test_dutch_and_english_headers_are_suggested_as_lead_fields():
    headers = ["E-mailadres", "Voornaam", "Achternaam", "Bedrijf", "Telefoon", "Functie",
               "Land", "Company size", "utm_source", "Kleur van de auto"]  # fmt: skip

    assert suggest_mapping(headers) == [
        "email", "first_name", "last_name", "company", "phone", "job_title", "country",
        "company_size", "utm_source", "",
    ]  # fmt: skip


def test_consent_columns_are_suggested_by_purpose_key_or_name():
    headers = ["email", "consent: marketing_email", "Telefonisch contact"]

    assert suggest_mapping(headers, PURPOSES) == [
        "email", "consent:marketing_email", "consent:phone_contact",
    ]  # fmt: skip


def test_a_field_is_suggested_for_one_column_only():
    assert suggest_mapping(["E-mail", "E-mailadres", "Mobiel", "Telefoon"]) == [
        "email", "", "phone", "",
    ]  # fmt: skip


def test_the_same_headers_give_the_same_key_however_they_are_written():
    assert header_set_key(["E-mailadres", "Voornaam"]) == header_set_key(
        ["e-mail adres", "VOORNAAM"]
    )
    assert header_set_key(["Voornaam", "E-mailadres"]) != header_set_key(
        ["E-mailadres", "Voornaam"]
    )
    assert normalise_header(" Fúnctie-titel ") == "functietitel"


def test_a_mapping_without_an_email_column_is_refused():
    assert mapping_problems(["first_name", "company"])
    assert not mapping_problems(["first_name", "email"])


def test_consent_cells_in_dutch_and_english_become_grants_and_withdrawals():
    mapping = ["email", "consent:marketing_email", "consent:phone_contact", "consent:profiling"]

    row = row_input(["a@b.nl", "Ja", "nee", ""], mapping)
    other = row_input(["a@b.nl", "x", "0", "FALSE"], mapping)

    assert row.consents == [ConsentGiven("marketing_email", True),
                            ConsentGiven("phone_contact", False)]  # fmt: skip
    assert [choice.granted for choice in other.consents] == [True, False, False]
    assert not row.errors and not other.errors


def test_a_consent_cell_that_is_neither_yes_nor_no_is_an_error_of_that_column():
    row = row_input(["a@b.nl", "misschien"], ["email", "consent:marketing_email"])

    assert list(row.errors) == ["consent:marketing_email"]
    assert row.consents == []


def test_choice_labels_and_country_names_become_the_values_capture_stores():
    mapping = ["email", "seniority", "timeframe", "country", "source"]

    row = row_input(["a@b.nl", "Director / VP", "within a month", "Nederland", "Beurs"], mapping)

    assert row.data == {"email": "a@b.nl", "seniority": "director", "timeframe": "now",
                        "country": "NL", "source": "Beurs"}  # fmt: skip


def test_cells_are_trimmed_and_ignored_columns_left_out():
    row = row_input(["  a@b.nl ", "Rood", " Sanne "], ["email", "", "first_name"])

    assert row.data == {"email": "a@b.nl", "first_name": "Sanne"}


def test_a_row_with_more_cells_than_headers_is_an_error_unless_they_are_empty():
    assert "row" in row_input(["a@b.nl", "Sanne", "extra"], ["email", "first_name"]).errors
    assert not row_input(["a@b.nl", "Sanne", "", " "], ["email", "first_name"]).errors
