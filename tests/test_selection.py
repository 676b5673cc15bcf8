"""Choosing checks: --select/--ignore, KEPLER_HOME/config.toml (global and per project), # kepler: noqa."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kepler import ModelInspector
from kepler_nb.checks.selection import Selection, load_selection, noqa_codes, parse_codes
from kepler_nb.interception.options import RunOptions


def test_codes_and_prefixes_are_parsed_and_bad_ones_explained():
    assert parse_codes("K2, k303") == ("K2", "K303")
    with pytest.raises(ValueError, match="not a check code or prefix: X1"):
        parse_codes("K2,X1")


def test_a_selection_keeps_selected_prefixes_minus_ignored_ones():
    selection = Selection(select=("K2", "K303"), ignore=("K205",))
    assert selection.allows("K201") and selection.allows("K303")
    assert not selection.allows("K205") and not selection.allows("K104")
    assert Selection().allows("K104")


def test_noqa_comments_name_codes_or_silence_everything():
    assert noqa_codes("x = 1  # kepler: noqa K302, K303\ny = 2") == ("K302", "K303")
    assert noqa_codes("# kepler: noqa") == ("K",)
    assert noqa_codes("# noqa: E501") == ()


def test_the_config_file_applies_globally_then_per_project(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[checks]\nignore = ["K104"]\n\n[projects.digits.checks]\nselect = ["K2", "K3"]\nignore = ["K303"]\n'
    )
    everywhere = load_selection(tmp_path, "other")
    assert not everywhere.allows("K104") and everywhere.allows("K101")
    digits = load_selection(tmp_path, "digits")
    assert digits.allows("K201") and not digits.allows("K101") and not digits.allows("K303")


def test_a_broken_config_file_names_itself(tmp_path):
    (tmp_path / "config.toml").write_text("[checks\nignore = 1")
    with pytest.raises(ValueError, match="config.toml is not valid TOML"):
        load_selection(tmp_path, None)


@pytest.fixture
def unscaled():
    rng = np.random.default_rng(0)
    x = (rng.random((128, 4)) * 255).astype("float32")  # K303: not normalized
    y = rng.integers(0, 2, 128)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, x, y


def codes_found(model, x, y, **options) -> set[str]:
    with ModelInspector(model, options=RunOptions(**options), show=lambda *a: None) as mi:
        mi.fit(x, y, epochs=1, verbose=0)
    return {f.code for f in mi.findings if not f.skipped}


def test_select_ignore_config_and_noqa_reach_a_real_fit(unscaled, kepler_home):
    model, x, y = unscaled
    assert {"K303", "K104"} <= codes_found(model, x, y)
    assert "K303" not in codes_found(model, x, y, selection=Selection(ignore=("K3",)))
    assert codes_found(model, x, y, selection=Selection(select=("K104",))) == {"K104"}
    assert "K303" not in codes_found(model, x, y, cell="model.fit(x, y)  # kepler: noqa K303")
    kepler_home.mkdir(exist_ok=True)
    (kepler_home / "config.toml").write_text('[projects.quiet.checks]\nignore = ["K1"]\n')
    assert "K104" not in codes_found(model, x, y, project="quiet")
    assert "K104" in codes_found(model, x, y, project="loud")
