"""The one shape of every API error: {"errors": {field: [messages]}}."""

from rest_framework.exceptions import ErrorDetail

from api.exceptions import field_errors


def test_field_errors_keep_their_field_names_and_become_plain_messages():
    detail = {"email": [ErrorDetail("Enter a valid e-mail address.", code="invalid")]}

    assert field_errors(detail) == {"email": ["Enter a valid e-mail address."]}


def test_errors_not_about_a_field_go_under_non_field_errors():
    assert field_errors(["Send at least one event."]) == {
        "non_field_errors": ["Send at least one event."]
    }


def test_errors_of_a_list_of_items_are_keyed_by_the_index_of_each_bad_item():
    detail = [{}, {"type": ["Unknown event type."]}, {}, {"lead": ["No such lead."]}]

    assert field_errors(detail) == {
        "1": {"type": ["Unknown event type."]},
        "3": {"lead": ["No such lead."]},
    }


def test_errors_of_nested_lists_are_keyed_by_index_too():
    detail = {"consents": {0: {"granted": ["This field is required."]}}}

    assert field_errors(detail) == {"consents": {"0": {"granted": ["This field is required."]}}}
