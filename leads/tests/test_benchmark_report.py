"""BENCHMARKS.md is rewritten by every `make bench`: rows of benchmarks that did not run and
the notes under the table stay."""

from leads.benchmarking import Measurement, write_report


def test_a_run_replaces_its_rows_and_keeps_the_others_and_the_notes(tmp_path):
    report = tmp_path / "BENCHMARKS.md"
    write_report(
        report,
        [
            Measurement(name="alpha", value=1.0, unit="s", baseline=0.5, baseline_label="a"),
            Measurement(name="beta", value=2.0, unit="s", baseline=1.0, baseline_label="b"),
        ],
        leads=10,
        database="postgresql x",
    )
    report.write_text(report.read_text() + "\nNotes on the figures:\n- alpha is slow.\n")

    write_report(
        report,
        [Measurement(name="alpha", value=3.0, unit="s", baseline=1.0, baseline_label="a")],
        leads=10,
        database="postgresql x",
    )

    text = report.read_text()
    assert "| `alpha` | 3.0 s |" in text and "| `alpha` | 1.0 s |" not in text
    assert "| `beta` | 2.0 s |" in text
    assert text.endswith("Notes on the figures:\n- alpha is slow.\n")
