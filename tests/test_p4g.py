"""The P4G loaders on the published files, checked against independent pandas counts of the same CSVs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd
import pytest

from gdp_zero.domain import DOMAINS_DIR, load_domain
from gdp_zero.p4g import UNMAPPED_PREFIX, P4GError, load_p4g, load_p4g_annotated, load_p4g_full

DOMAIN = load_domain("p4g")


def mapping_from_toml(kind: str) -> dict[str, str]:
    """The domain file's label table, read straight from the TOML (not through Domain)."""
    data = tomllib.loads((DOMAINS_DIR / "p4g.toml").read_text(encoding="utf-8"))
    return {label: act["name"] for act in data[kind] for label in act.get("corpus_labels", [])}


@pytest.fixture(scope="module")
def corpus(p4g_dir: Path):
    return load_p4g(p4g_dir, DOMAIN)


@pytest.fixture(scope="module")
def sheet(p4g_dir: Path) -> pd.DataFrame:
    return pd.read_csv(p4g_dir / "300_dialog.csv")


def test_300_annotated_dialogues_load_with_alternating_turns(corpus, sheet: pd.DataFrame) -> None:
    assert len(corpus.records) == 300 == sheet["B2"].nunique()
    assert {r.source for r in corpus.records} == {"p4g"}
    for record in corpus.records:
        speakers = [t.speaker for t in record.turns]
        assert speakers[0] == "system"
        assert all(a != b for a, b in zip(speakers, speakers[1:]))  # a turn is a run of one speaker's sentences
    sentences = sum(len(t.meta["sentences"]) for r in corpus.records for t in r.turns)
    assert sentences == len(sheet)


def test_persuader_first_label_counts_equal_pandas(corpus, sheet: pd.DataFrame) -> None:
    mapping = mapping_from_toml("system_acts")
    persuader = sheet[sheet["B4"] == 0]
    expected = persuader["er_label_1"].str.strip().map(mapping).value_counts().to_dict()
    assert persuader["er_label_1"].str.strip().map(mapping).notna().all()  # every first label is in the table
    assert dict(corpus.sentence_acts("system")) == expected
    # Each act's count through the label table too, including the labels that are not called "other".
    table = corpus.label_table()
    first = table[(table.speaker == "system") & (table.position == "first")]
    assert first.groupby("act")["sentences"].sum().to_dict() == expected


def test_second_labels_are_kept_with_their_acts(corpus, sheet: pd.DataFrame) -> None:
    """22 persuader and 15 persuadee sentences carry a second label (another act in the same sentence)."""
    for speaker, column, kind in (("system", "er_label_2", "system_acts"), ("user", "ee_label_2", "user_acts")):
        mapping = mapping_from_toml(kind)
        seconds = sheet[column].dropna().str.strip()
        expected = seconds.map(lambda label, known=mapping: known.get(label, UNMAPPED_PREFIX + label)).value_counts().to_dict()
        table = corpus.label_table()
        second = table[(table.speaker == speaker) & (table.position == "second")]
        assert second.groupby("act")["sentences"].sum().to_dict() == expected
        assert second["sentences"].sum() == len(seconds) == {"system": 22, "user": 15}[speaker]
    sentence = next(t for r in corpus.records for t in r.turns if any("even $0.10 of today's pay" in s for s in t.meta["sentences"]))
    at = next(i for i, s in enumerate(sentence.meta["sentences"]) if "even $0.10" in s)
    assert sentence.meta["labels"][at] == ["proposition-of-donation", "foot-in-the-door"]
    assert sentence.meta["label_acts"][at] == ["proposition of donation", "foot in the door"]
    assert corpus.sentence_acts("system")["foot in the door"] == (sheet["er_label_1"].str.strip() == "foot-in-the-door").sum()


def test_persuadee_first_label_counts_equal_pandas(corpus, sheet: pd.DataFrame) -> None:
    persuadee = sheet[sheet["B4"] == 1]
    expected = persuadee["ee_label_1"].str.strip().map(mapping_from_toml("user_acts")).value_counts().to_dict()
    assert dict(corpus.sentence_acts("user")) == expected


def test_turn_acts_follow_the_documented_rule(corpus, sheet: pd.DataFrame) -> None:
    """Independently: runs of one role; the first act that is not the catch-all, else the catch-all."""
    mapping = {0: mapping_from_toml("system_acts"), 1: mapping_from_toml("user_acts")}
    catch_all = {0: "other", 1: "neutral"}
    frame = sheet.copy()
    frame["label"] = frame["er_label_1"].where(frame["B4"] == 0, frame["ee_label_1"]).str.strip()
    frame["act"] = [mapping[role][label] for role, label in zip(frame["B4"], frame["label"])]
    frame["run"] = ((frame["B4"] != frame["B4"].shift()) | (frame["B2"] != frame["B2"].shift())).cumsum()

    def turn_act(group: pd.DataFrame) -> str:
        role = group["B4"].iloc[0]
        strategic = group.loc[group["act"] != catch_all[role], "act"]
        return strategic.iloc[0] if len(strategic) else catch_all[role]

    expected = frame.groupby("run", sort=True)[["B4", "act"]].apply(turn_act).tolist()
    assert [t.act for r in corpus.records for t in r.turns] == expected


def test_unmapped_labels_are_listed_and_no_label_silently_becomes_other(corpus, sheet: pd.DataFrame) -> None:
    listed = {(u.speaker, u.column, u.label): u.count for u in corpus.unmapped}
    # The second-label column holds a label the domain's table does not have.
    assert listed == {("system", "er_label_2", "non-personal-Task-related-inquiry"): 2}
    assert (sheet["er_label_2"] == "non-personal-Task-related-inquiry").sum() == 2
    assert "non-personal-Task-related-inquiry" in corpus.unmapped_message()
    explicitly_other = {label for label, act in mapping_from_toml("system_acts").items() if act == "other"}
    for record in corpus.records:
        for turn in record.turns:
            for labels, acts in zip(turn.meta["labels"], turn.meta["label_acts"]):
                for label, act in zip(labels, acts):
                    if act == "other":
                        assert label in explicitly_other


def test_outcomes_are_joined_from_300_info(corpus, p4g_dir: Path) -> None:
    info = pd.read_csv(p4g_dir / "300_info.csv")
    persuadees = info[info["B4"] == 1].set_index("B2")
    by_id = {r.id: r for r in corpus.records}
    assert set(by_id) == set(persuadees.index)
    for dialogue_id, row in persuadees.iterrows():
        record = by_id[dialogue_id]
        assert record.meta["actual_donation"] == row["B6"]
        assert record.meta["persuadee_id"] == row["B3"]
        assert (record.meta["intended_donation"] is None) == pd.isna(row["B5"])
        assert record.end_reason == ("success" if row["B6"] > 0 else "no_donation")
        assert record.outcome == (1.0 if row["B6"] > 0 else -1.0)
    assert sum(r.end_reason == "success" for r in corpus.records) == (persuadees["B6"] > 0).sum() == 148


def test_the_excel_sheet_reads_as_the_csv(p4g_dir: Path, corpus) -> None:
    from_excel = load_p4g_annotated(p4g_dir / "300_dialog.xlsx", DOMAIN)
    assert [r.to_dict() for r in from_excel.records] == [r.to_dict() for r in corpus.records]


def test_the_full_corpus_loads_unlabelled_with_outcomes(p4g_dir: Path) -> None:
    full = load_p4g_full(p4g_dir / "full_dialog.csv", DOMAIN)
    info = pd.read_csv(p4g_dir / "full_info.csv")
    assert len(full.records) == 1017 and not full.annotated
    assert {t.act for r in full.records for t in r.turns} == {"(unlabelled)"}
    donated = info[(info["B4"] == 1) & (info["B6"] > 0)]["B2"].nunique()
    assert sum(r.end_reason == "success" for r in full.records) == donated


def write_sheet(p4g_dir: Path, folder: Path, change) -> Path:
    frame = pd.read_csv(p4g_dir / "300_dialog.csv", nrows=60)
    frame = change(frame)
    path = folder / "300_dialog.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_missing_column_is_named(p4g_dir: Path, tmp_path: Path) -> None:
    path = write_sheet(p4g_dir, tmp_path, lambda f: f.drop(columns=["er_label_1"]))
    with pytest.raises(P4GError, match=r"300_dialog.csv: missing column er_label_1 of the annotated dialogues"):
        load_p4g_annotated(path, DOMAIN)
    path = write_sheet(p4g_dir, tmp_path, lambda f: f.drop(columns=["Unit"]))
    with pytest.raises(P4GError, match=r"missing column Unit"):
        load_p4g_annotated(path, DOMAIN)


def test_an_unknown_label_is_kept_visible_not_turned_into_other(p4g_dir: Path, tmp_path: Path) -> None:
    def spaces_instead_of_hyphens(frame: pd.DataFrame) -> pd.DataFrame:
        frame["er_label_1"] = frame["er_label_1"].replace("credibility-appeal", "credibility appeal")
        return frame

    path = write_sheet(p4g_dir, tmp_path, spaces_instead_of_hyphens)
    changed = (pd.read_csv(path)["er_label_1"] == "credibility appeal").sum()
    assert changed > 0
    corpus = load_p4g_annotated(path, DOMAIN)  # no 300_info.csv beside it: outcomes unknown, said so
    assert any("300_info.csv" in note for note in corpus.notes)
    assert all(r.outcome is None for r in corpus.records)
    assert [(u.label, u.count) for u in corpus.unmapped] == [("credibility appeal", changed)]
    assert corpus.sentence_acts("system")[UNMAPPED_PREFIX + "credibility appeal"] == changed
    assert "credibility appeal" in corpus.unmapped_message() and "not in the domain's corpus_labels" in corpus.unmapped_message()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.txt", "hello", r"unknown file type \.txt"),
        ("people.csv", "B2,B3,B4,B6\nx,user_1,0,0.5\n", r"participants file .* not dialogues"),
        ("other.csv", "a,b\n1,2\n", r"not a P4G file: expected the columns of 300_dialog.csv"),
        ("roles.csv", "B2,B4,Turn,Unit,er_label_1,ee_label_1\nd,0,0,Hi,greeting,\nd,7,0,Hi,,greeting\n",
         r"row 3: column B4 must be 0 \(persuader\) or 1 \(persuadee\), got 7"),
        ("ids.csv", "B2,B4,Turn,Unit,er_label_1,ee_label_1\nd,0,0,Hi,greeting,\n,1,0,Hi,,greeting\n",
         r"row 3: column B2 \(the dialogue id\) is empty"),
    ],
)
def test_unknown_files_are_refused_with_a_reason(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(P4GError, match=message):
        load_p4g(path, DOMAIN)


def test_missing_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(P4GError, match="no such file"):
        load_p4g(tmp_path / "300_dialog.csv", DOMAIN)
    with pytest.raises(P4GError, match="no P4G dialogue file in this folder"):
        load_p4g(tmp_path, DOMAIN)
