"""Persona files: the shipped ones load, P4G survey rows become personas with the CSV's values, mistakes are named."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gdp_zero.personas import PERSONAS_DIR, TRAIT_GROUPS, load_persona, load_personas, p4g_persuadees
from gdp_zero.validation import ConfigError

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))}


def test_the_shipped_personas_load_and_span_easy_to_hard():
    personas = load_personas([PERSONAS_DIR])
    assert len(personas) >= 5
    assert len({p.id for p in personas}) == len(personas)
    propensities = sorted(p.traits.donation_propensity for p in personas)
    assert propensities[0] <= 0.1 and propensities[-1] >= 0.8  # a near-certain refuser and an eager giver
    for persona in personas:
        assert len(persona.description.split()) >= 20  # enough for a simulator to play


def test_from_p4g_writes_valid_personas_whose_traits_equal_the_csv(tmp_path: Path, p4g_dir: Path):
    out = tmp_path / "p4g"
    result = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "personas", "from-p4g", str(p4g_dir / "full_info.csv"), "--n", "50",
         "--out", str(out)],
        capture_output=True, text=True, timeout=120, env=ENV,
    )
    assert result.returncode == 0, result.stderr
    assert "Wrote 50 persona files" in result.stdout
    files = sorted(out.glob("*.toml"))
    assert len(files) == 50

    with open(p4g_dir / "full_info.csv", newline="") as handle:
        persuadees = {row["B2"]: row for row in csv.DictReader(handle) if row["B4"] == "1"}
    compared = 0
    for file in files:
        persona = load_persona(file)  # valid: loads through the schema
        row = persuadees[persona.meta["dialogue_id"]]
        assert persona.meta["user_id"] == row["B3"]
        assert persona.meta["actual_donation"] == float(row["B6"])
        for group, model in TRAIT_GROUPS.items():
            values = getattr(persona.traits, group)
            for name in model.model_fields:
                cell = row[f"{name}.x"]
                mine = getattr(values, name) if values is not None else None
                if cell == "":
                    assert mine is None
                elif isinstance(mine, str):
                    assert mine == cell
                else:
                    assert mine == float(cell), (file.name, group, name)
                compared += 1
        assert persona.description and persona.traits.donation_propensity is None  # the real donation is metadata only
    assert compared == 50 * sum(len(m.model_fields) for m in TRAIT_GROUPS.values())


def test_the_description_follows_the_traits(tmp_path: Path, p4g_dir: Path):
    from gdp_zero.personas import p4g_persuadees

    for persona in p4g_persuadees(p4g_dir / "full_info.csv", 30):
        d = persona.traits.demographics
        assert f"{d.age:.0f}-year-old" in persona.description
        assert d.ideology.lower() in persona.description
        b = persona.traits.big_five
        assert ("outgoing" in persona.description) == (b.extrovert >= 4)
        assert ("calm and hard to rattle" in persona.description) == (b.neurotic <= 2)


@pytest.mark.parametrize(
    "old,new,field,problem",
    [
        ("extrovert = 4.4", "extrovrt = 4.4", "traits.big_five.extrovrt", "unknown field"),
        ("agreeable = 4.8", "agreeable = 7", "traits.big_five.agreeable", "less than or equal to 5"),
        ("donation_propensity = 0.9", 'donation_propensity = "high"', "traits.donation_propensity", "valid number"),
        ('id = "eager-giver"', 'id = "eager giver!"', "id", "should match pattern"),
        ("[traits.demographics]", "[traits.demographic]", "traits.demographic", "unknown field"),
    ],
)
def test_a_persona_file_with_a_wrong_field_fails_naming_file_and_field(tmp_path: Path, old, new, field, problem):
    text = (PERSONAS_DIR / "1-eager-giver.toml").read_text()
    assert old in text
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError) as caught:
        load_personas([broken])
    message = str(caught.value)
    assert message.startswith(f"{broken}: ") and f" {field}:" in message and problem in message, message


def test_selfplay_with_a_broken_persona_stops_with_one_line(tmp_path: Path):
    broken = tmp_path / "broken.toml"
    broken.write_text('id = "x"\ndescription = "A person who never gives to anyone."\nmood = "grumpy"\n')
    result = subprocess.run(
        [sys.executable, "-m", "gdp_zero.cli", "selfplay", "--llm", "fake", "--personas", str(broken),
         "--out", str(tmp_path / "run.jsonl")],
        capture_output=True, text=True, timeout=120, env=ENV,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {broken}: mood: unknown field (check its spelling)"
    assert not (tmp_path / "run.jsonl").exists()


def test_duplicate_ids_and_empty_folders_are_refused(tmp_path: Path):
    first = PERSONAS_DIR / "1-eager-giver.toml"
    (tmp_path / "copy.toml").write_text(first.read_text())
    with pytest.raises(ConfigError, match="is already the id of"):
        load_personas([first, tmp_path / "copy.toml"])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no persona files"):
        load_personas([empty])


def test_a_survey_cell_that_is_not_a_number_names_its_row_and_column(tmp_path: Path, p4g_dir: Path):
    with open(p4g_dir / "full_info.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    persuadee = next(row for row in rows if row["B4"] == "1" and row["extrovert.x"].strip())
    persuadee["extrovert.x"] = "very"
    broken = tmp_path / "full_info.csv"
    with open(broken, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(ConfigError, match=rf"^{broken}, line \d+, dialogue '{persuadee['B2']}', column extrovert\.x: "
                                          "expected a number, got 'very'"):
        list(p4g_persuadees(broken))


def from_p4g(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gdp_zero.cli", "personas", "from-p4g", *args],
                          capture_output=True, text=True, timeout=120, env=ENV)


def test_from_p4g_mistakes_end_in_one_line_and_write_nothing(tmp_path: Path, p4g_dir: Path):
    taken = tmp_path / "taken.txt"
    taken.write_text("mine")
    done = from_p4g(str(p4g_dir / "full_info.csv"), "--n", "2", "--out", str(taken))
    assert done.returncode == 2 and done.stderr == f"error: {taken}: is a file; give a folder for the persona files\n"
    assert taken.read_text() == "mine"
    out = tmp_path / "personas"
    done = from_p4g(str(p4g_dir / "300_info.csv"), "--out", str(out))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "no pre-task survey columns" in done.stderr
    assert "full_info.csv, not 300_info.csv" in done.stderr and not out.exists()
    done = from_p4g(str(p4g_dir / "full_info.csv"), "--n", "5000", "--out", str(out))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and not out.exists()
    assert re.search(r"only \d+ persuadees answered the survey, 5000 asked for \(give --n \d+ or fewer\)", done.stderr)
