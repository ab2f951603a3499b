from django.core.management import call_command


def test_the_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    schema = tmp_path / "schema.yaml"

    # --fail-on-warn turns every drf-spectacular warning (an undocumented response, a
    # guessed type, an enum name clash) into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema))

    text = schema.read_text()
    for path in ["/api/v1/leads/:", "/api/v1/leads/{id}/:", "/api/v1/events/:"]:
        assert path in text
    assert "Idempotency-Key" in text
