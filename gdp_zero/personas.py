"""Simulated persuadees: who the LLM user simulator plays in self-play.

A persona is a TOML file (`personas/*.toml`): an id, the description the simulator is
conditioned on, optional structured traits on the scales of the PersuasionForGood pre-task
survey (Big Five 1-5, moral foundations 1-6, Schwartz values 1-6, decision style 1-5,
demographics), an optional donation propensity for hand-written ones, and free metadata.
`from_p4g` turns a P4G persuadee's survey row into one: traits carried over unchanged, a
description written from them by a template, the real donation kept as metadata.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Iterable, Iterator

import tomlkit
from pydantic import BaseModel, Field

from gdp_zero.shipped_files import shipped_folder
from gdp_zero.validation import ConfigError, StrictModel, load_toml_file, validate

PERSONAS_DIR = shipped_folder("personas")
P4G_PERSUADEE_ROLE = 1  # full_info.csv, column B4: 0 persuader, 1 persuadee
SURVEY_COLUMN = "extrovert.x"  # the first survey column: full_info.csv has it, 300_info.csv does not

_Five = Annotated[float, Field(ge=1, le=5)]
_Six = Annotated[float, Field(ge=1, le=6)]


class BigFive(StrictModel):
    extrovert: _Five | None = None
    agreeable: _Five | None = None
    conscientious: _Five | None = None
    neurotic: _Five | None = None
    open: _Five | None = None


class MoralFoundations(StrictModel):
    care: _Six | None = None
    fairness: _Six | None = None
    loyalty: _Six | None = None
    authority: _Six | None = None
    purity: _Six | None = None
    freedom: _Six | None = None


class SchwartzValues(StrictModel):
    conform: _Six | None = None
    tradition: _Six | None = None
    benevolence: _Six | None = None
    universalism: _Six | None = None
    self_direction: _Six | None = None
    stimulation: _Six | None = None
    hedonism: _Six | None = None
    achievement: _Six | None = None
    power: _Six | None = None
    security: _Six | None = None


class DecisionStyle(StrictModel):
    rational: _Five | None = None
    intuitive: _Five | None = None


class Demographics(StrictModel):
    age: Annotated[float, Field(ge=0, le=120)] | None = None
    sex: str | None = None
    race: str | None = None
    edu: str | None = None
    marital: str | None = None
    employment: str | None = None
    income: Annotated[float, Field(ge=0)] | None = None  # P4G: a bracket code, 1 (lowest) to 12
    religion: str | None = None
    ideology: str | None = None


class Traits(StrictModel):
    big_five: BigFive | None = None
    moral_foundations: MoralFoundations | None = None
    schwartz_values: SchwartzValues | None = None
    decision_style: DecisionStyle | None = None
    demographics: Demographics | None = None
    donation_propensity: Annotated[float, Field(ge=0, le=1)] | None = None  # 0 never gives, 1 gives readily


# The survey groups as they appear in full_info.csv: every column is `<trait>.x`.
TRAIT_GROUPS: dict[str, type[StrictModel]] = {
    "big_five": BigFive,
    "moral_foundations": MoralFoundations,
    "schwartz_values": SchwartzValues,
    "decision_style": DecisionStyle,
    "demographics": Demographics,
}


class Persona(StrictModel):
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    description: str = Field(min_length=10)
    traits: Traits = Field(default_factory=Traits)
    meta: dict[str, Any] = Field(default_factory=dict)  # e.g. P4G ids and the real donation

    def to_record(self) -> dict[str, Any]:
        """What a self-play record keeps of the persona: everything, unset traits left out."""
        return self.model_dump(exclude_none=True)

    def to_toml(self) -> str:
        return tomlkit.dumps(self.model_dump(exclude_none=True))


def load_persona(path: Path) -> Persona:
    return load_toml_file(Persona, Path(path))


def load_personas(paths: Iterable[Path]) -> list[Persona]:
    """Personas from files and directories (every `*.toml` directly in it), sorted by id; ids must be unique."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            if not found:
                raise ConfigError(f"{path}: no persona files (*.toml) in this folder")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError(f"{path}: file not found")
    personas: dict[str, tuple[Persona, Path]] = {}
    for file in files:
        persona = load_persona(file)
        if persona.id in personas:
            raise ConfigError(f"{file}: id: {persona.id!r} is already the id of {personas[persona.id][1]}")
        personas[persona.id] = (persona, file)
    return [persona for persona, _ in sorted(personas.values(), key=lambda item: item[0].id)]


# -- PersuasionForGood survey rows -------------------------------------------------------------


def from_p4g(row: dict[str, str], where: str = "full_info.csv") -> Persona:
    """A persona from one row of P4G's full_info.csv (a persuadee's pre-task survey); `where` names
    the file and line in errors.

    Traits are the CSV's values unchanged (blank cells left unset); the description is written
    from them by `describe`; the dialogue and user ids and the real donation go in `meta`.
    """
    where = f"{where}, dialogue {row.get('B2')!r}"
    groups: dict[str, dict[str, Any]] = {}
    for group, model in TRAIT_GROUPS.items():
        values = {name: _cell(row.get(f"{name}.x"), model.model_fields[name].annotation, f"{where}, column {name}.x")
                  for name in model.model_fields}
        values = {name: value for name, value in values.items() if value is not None}
        if values:
            groups[group] = values
    traits = validate(Traits, groups, where)
    meta = {
        "source": "p4g",
        "dialogue_id": row["B2"],
        "user_id": row["B3"],
        "actual_donation": _cell(row.get("B6"), float, f"{where}, column B6"),
        "turns": int(_cell(row.get("B7"), float, f"{where}, column B7") or 0),
    }
    return validate(
        Persona,
        {"id": f"p4g-{row['B2']}", "description": describe(traits), "traits": traits, "meta": meta},
        where,
    )


def p4g_persuadees(csv_path: Path, n: int | None = None) -> Iterator[Persona]:
    """The first `n` persuadees of full_info.csv (file order) who answered the survey."""
    from gdp_zero.p4g import P4GError, read_table  # the corpus reader (pandas): only when personas are made

    csv_path = Path(csv_path)
    try:
        frame = read_table(csv_path, as_text=True)
    except P4GError as error:
        raise ConfigError(str(error)) from None
    columns = set(frame.columns)
    missing = {"B2", "B3", "B4", "B6"} - columns
    if missing:
        raise ConfigError(f"{csv_path}: not P4G's full_info.csv (no column {', '.join(sorted(missing))})")
    if SURVEY_COLUMN not in columns:
        raise ConfigError(f"{csv_path}: no pre-task survey columns ({SURVEY_COLUMN}, ...): persona traits come "
                          "from P4G's full_info.csv, not 300_info.csv")
    made = 0
    for line, row in enumerate(frame.to_dict("records"), start=2):  # line 1 is the header
        if n is not None and made >= n:
            return
        if _cell(row["B4"], float, f"{csv_path}, line {line}, column B4") != P4G_PERSUADEE_ROLE:
            continue
        persona = from_p4g(row, f"{csv_path}, line {line}")
        if persona.traits.big_five is None:  # left the survey blank: nothing to condition on
            continue
        made += 1
        yield persona


def p4g_personas(csv_path: Path, n: int) -> list[Persona]:
    """Exactly the first `n` persuadees with survey answers, or a ConfigError saying how many the file has."""
    personas = list(p4g_persuadees(csv_path, n))
    if len(personas) < n:
        raise ConfigError(f"{csv_path}: only {len(personas)} persuadees answered the survey, {n} asked for "
                          f"(give --n {len(personas)} or fewer)")
    return personas


def write_personas(personas: Iterable[Persona], out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir}: is a file; give a folder for the persona files")
    personas = list(personas)  # every row read (and checked) before the folder is made
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for persona in personas:
        path = out_dir / f"{persona.id}.toml"
        path.write_text(persona.to_toml(), encoding="utf-8")
        written.append(path)
    return written


def _cell(raw: str | None, annotation: Any, where: str) -> Any:
    """A CSV cell as the trait's type; blank or NA cells are None; ConfigError naming `where` if not a number."""
    if raw is None or raw.strip() in ("", "NA", "nan"):
        return None
    if str in getattr(annotation, "__args__", (annotation,)):
        return raw.strip()
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{where}: expected a number, got {raw.strip()[:40]!r}") from None
    return None if math.isnan(value) else value




# -- the description template ------------------------------------------------------------------

# (trait, high phrase, low phrase): high is at least 4 of 5, low at most 2.
_BIG_FIVE_WORDS = (
    ("extrovert", "outgoing and talkative", "reserved and quiet"),
    ("agreeable", "warm and trusting", "critical and hard to win over"),
    ("conscientious", "careful and organised", "easy-going about plans"),
    ("neurotic", "anxious and easily worried", "calm and hard to rattle"),
    ("open", "curious and open to new ideas", "conventional and set in their ways"),
)
# (value, phrase) for Schwartz values and moral foundations rated 5 or more of 6.
_STRONG_VALUES = (
    ("benevolence", "the welfare of people close to them"),
    ("universalism", "the welfare of all people"),
    ("security", "safety and stability"),
    ("power", "status and control over resources"),
    ("achievement", "personal success"),
    ("hedonism", "enjoying life"),
    ("tradition", "tradition"),
)
_STRONG_FOUNDATIONS = (
    ("care", "caring for those who suffer"),
    ("fairness", "fairness"),
    ("loyalty", "loyalty to their group"),
    ("freedom", "personal freedom"),
)


def describe(traits: Traits) -> str:
    """A third-person sketch the user simulator can play, written only from the traits given."""
    sentences = []
    d = traits.demographics
    if d is not None:
        who = " ".join(filter(None, [
            f"{d.age:.0f}-year-old" if d.age is not None else None,
            d.ideology.lower() if d.ideology else None,
            {"Male": "man", "Female": "woman"}.get(d.sex or "", "person"),
        ]))
        details = [
            d.marital.lower() if d.marital else None,
            d.employment.lower() if d.employment and d.employment != "Other" else None,
            f"education: {d.edu.lower()}" if d.edu else None,
            f"religion: {d.religion.lower()}" if d.religion else None,
            f"income bracket {d.income:.0f} of 12" if d.income is not None else None,
        ]
        sentences.append(f"A {who} ({', '.join(filter(None, details))}).".replace(" ()", ""))
    b = traits.big_five
    if b is not None:
        words = []
        for name, high, low in _BIG_FIVE_WORDS:
            score = getattr(b, name)
            if score is not None and score >= 4:
                words.append(high)
            elif score is not None and score <= 2:
                words.append(low)
        if words:
            sentences.append(f"They are {_join(words)}.")
    cares = _strong(traits.schwartz_values, _STRONG_VALUES) + _strong(traits.moral_foundations, _STRONG_FOUNDATIONS)
    if cares:
        sentences.append(f"They care strongly about {_join(cares)}.")
    s = traits.decision_style
    if s is not None and s.rational is not None and s.intuitive is not None and s.rational != s.intuitive:
        sentences.append(
            "They decide by weighing facts and evidence." if s.rational > s.intuitive
            else "They decide by gut feeling more than by facts."
        )
    if traits.donation_propensity is not None:
        p = traits.donation_propensity
        sentences.append(
            "They give to charity readily." if p >= 0.7
            else "They rarely give to charity and need strong reasons." if p <= 0.3
            else "They sometimes give to charity."
        )
    return " ".join(sentences) or "An ordinary adult taking part in an online task."


def _strong(group: BaseModel | None, phrases: tuple[tuple[str, str], ...]) -> list[str]:
    if group is None:
        return []
    return [phrase for name, phrase in phrases if (getattr(group, name) or 0) >= 5]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + ", and " + words[-1]
