"""Credentials kept out of the journal, and the [record] settings that turn parts off."""

from __future__ import annotations

import json

import pytest
from test_journal import parts, summary

from kepler_nb.journal.journal import Journal
from kepler_nb.journal.privacy import load_record_settings, redact

GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS = "AKIA" + "ABCDEFGHIJKLMNOP"
HF = "hf_" + "abcdefghijklmnopqrstuvwxyzABCDEFGH"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"token = '{GITHUB}'", GITHUB),
        (f"boto3.client('s3', aws_access_key_id='{AWS}')", AWS),
        (f'os.environ["HF_TOKEN"] = "{HF}"', HF),
        ('api_key = "s3cr3t-value-42"', "s3cr3t-value-42"),
        ("db = 'postgres://alice:hunter2hunter2@db:5432/x'", "hunter2hunter2"),
    ],
)
def test_values_that_look_like_credentials_are_redacted(text, secret):
    cleaned = redact(text)
    assert secret not in cleaned
    assert "[redacted" in cleaned


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("private key", "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"),
        ("AWS access key", "creds: " + "ASIA" + "QRSTUVWXYZ234567"),
        ("GitHub token", "github_pat_" + "A" * 30),
        ("GitLab token", "glpat-" + "x" * 20),
        ("Slack token", "xoxb-" + "1234567890-abc"),
        ("API key", "sk-ant-" + "b" * 24),
        ("Hugging Face token", "hf_" + "c" * 30),
        ("Google API key", "AIza" + "d" * 35),
        ("Stripe key", "rk_test_" + "e" * 16),
        ("JSON web token", "eyJ" + "hbGciOiJI." + "eyJ" + "zdWIiOiIx." + "f" * 10),
        ("bearer token", "Authorization: Bearer " + "g" * 20),
        ("password in a URL", "https://bob:" + "pa55word" + "@example.org/x"),
    ],
)
def test_every_kind_of_credential_is_found_in_plain_text(kind, text):
    """Each published format, with no suspicious name beside it (what the quick first search must not miss)."""
    assert f"[redacted: {kind}]" in redact(text)


def test_ordinary_code_is_left_as_it_is():
    code = "model.fit(x_train, y_train, epochs=5, batch_size=32)  # tokens per batch: 512\nname = 'sigmoid-net'"
    assert redact(code) == code


def test_a_token_pasted_in_a_cell_never_reaches_the_journal(kepler_home):
    journal = Journal()
    cell = f"GITHUB_TOKEN = '{GITHUB}'\nmodel.fit(x, y)"
    experiment_id = journal.start(summary(hypothesis=f"with {AWS}"), parts(cell=cell))
    record = journal.get(experiment_id)
    assert "model.fit(x, y)" in record["cell"]  # the cell is kept ...
    assert GITHUB not in record["cell"] and AWS not in record["hypothesis"]  # ... without the secrets
    stored = b"".join(p.read_bytes() for p in kepler_home.rglob("*") if p.is_file())
    assert GITHUB.encode() not in stored and AWS.encode() not in stored


def test_parts_turned_off_in_config_are_not_stored(kepler_home):
    kepler_home.mkdir(parents=True, exist_ok=True)
    (kepler_home / "config.toml").write_text("[record]\ncell = false\nnotebook = false\n", encoding="utf-8")
    journal = Journal()
    experiment_id = journal.start(summary(), parts(cell="SECRET_CELL_TEXT = 1"))
    record = journal.get(experiment_id)
    assert record["cell"] is None and record["notebook"] is None
    assert record["fit"]["epochs"] == 5  # the rest of the record is unchanged
    stored = b"".join(p.read_bytes() for p in kepler_home.rglob("*") if p.is_file())
    assert b"SECRET_CELL_TEXT" not in stored


def test_a_malformed_record_section_says_what_it_takes(kepler_home):
    kepler_home.mkdir(parents=True, exist_ok=True)
    (kepler_home / "config.toml").write_text("[record]\ncell = 'no'\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[record\] takes true/false for cell"):
        load_record_settings(kepler_home)


def test_a_token_deep_in_a_model_config_never_reaches_the_blobs(kepler_home):
    journal = Journal(kepler_home)
    experiment_id = journal.start(summary(), parts(model_config={"layers": [{"config": {"name": f"x {GITHUB}"}}]}))
    stored = journal.get(experiment_id)
    assert GITHUB not in json.dumps(stored) and "[redacted: GitHub token]" in json.dumps(stored["model_config"])
    assert all(GITHUB.encode() not in path.read_bytes() for path in journal.blobs.root.rglob("*.json"))
