"""What the admin dashboard shows, as tables and figures: no Gradio here, so each piece is tested directly.

`StudyReader` reads the study's database through gdp_zero/study (crud, stats, export); the
functions below turn what it reads into DataFrames and Plotly figures.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd
import plotly.graph_objects as go

from gdp_zero.analysis.figures import empty_figure
from gdp_zero.llm.settings import LLMSettings
from gdp_zero.study import crud, stats
from gdp_zero.study.dialogues import participation_record
from gdp_zero.study.models import Participation
from gdp_zero.study.stats import UNASSIGNED
from gdp_zero.study.service import StudyService
from gdp_zero.study.export import study_data, write_export
from gdp_zero.study.results import Results, results_of
from gdp_zero.study.spec import Study
from gdp_zero.study.stats import Population
from ui.dropdowns import as_index

CONDITION_COLUMNS = ["condition", "label", "planner", "model", "quota"]
DIGITS = 3  # shown in the result tables; the exports keep full precision


def now_text() -> str:
    return datetime.now(timezone.utc).strftime("%H:%M:%S UTC")


def condition_models(study: Study, llm: LLMSettings) -> dict[str, str]:
    """Per condition, the model it runs on: one name, or each role's when its roles use different models."""
    shown = {}
    for condition in study.conditions:
        by_role = condition.llm_settings(llm).models_by_role()
        models = sorted(set(by_role.values()))
        shown[condition.name] = models[0] if len(models) == 1 else ", ".join(f"{role}: {model}" for role, model in by_role.items())
    return shown


def counts_frame(rows: Iterable[tuple[str | None, str, int]], study: Study, models: Mapping[str, str]) -> pd.DataFrame:
    """Per condition (and before assignment): its model, started, then each status; dropped = timed out (stats.participation_counts)."""
    grouped = pd.DataFrame(list(rows), columns=["condition", "status", "count"])
    counts = stats.participation_counts(grouped.loc[grouped.index.repeat(grouped["count"])])
    conditions = pd.DataFrame([[c.name, c.label, c.planner, models.get(c.name, ""), c.quota if c.quota is not None else ""]
                               for c in study.conditions],
                              columns=CONDITION_COLUMNS, dtype=object)  # object: a quota stays 20, not 20.0, beside blanks
    table = conditions.merge(counts, on="condition", how="outer").fillna({c: "" for c in CONDITION_COLUMNS[1:]})
    numbers = [c for c in table.columns if c not in CONDITION_COLUMNS]
    return table.fillna({c: 0 for c in numbers}).astype({c: int for c in numbers})


def participation_label(participation: Any, condition: str | None, messages: int) -> str:
    preview = " · preview" if participation.preview else ""
    return (f"#{participation.id} · {participation.participant_id} · {condition or UNASSIGNED} · "
            f"{participation.status} · {messages} messages{preview}")


def participation_info_html(participation: Any, condition: str | None, answers: list[Any]) -> str:
    rows = [("participant id", participation.participant_id), ("condition", condition or UNASSIGNED),
            ("status", participation.status), ("phase", participation.phase),
            ("end reason", participation.end_reason or ""), ("screen-out reason", participation.screen_out_reason or ""),
            ("attention check passed", "" if participation.attention_passed is None else str(participation.attention_passed)),
            ("started", participation.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"))]
    rows += [(f"{answer.survey}: {answer.item}", answer.value) for answer in answers]
    body = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f'<table class="participation-info">{body}</table>'


def shown(table: pd.DataFrame) -> pd.DataFrame:
    """A result table for the page: numbers rounded, undefined values blank."""
    return table.round(DIGITS).astype(object).where(table.notna(), "")


def population_label(label: str, results: Results) -> str:
    """A result table's label naming who it counts: completers, or everyone (the switch)."""
    return f"{label} · {results.population}, {results.total} participants"


def results_note(results: Results) -> str:
    """Who the tables count (the population, n per condition, who was left out and why) and how to read them."""
    population = stats.POPULATIONS[results.population]
    if results.total == 0:
        return (f'<div class="study-status">Population: {html.escape(population)}. Nobody in it yet: the tables fill as '
                "participants finish.</div>")
    per_condition = ", ".join(f"{html.escape(c)} {n}" for c, n in sorted(results.participants.items()))
    left_out = "; ".join(f"{n} {html.escape(reason)}" for reason, n in sorted(results.excluded.items()))
    rated = ("every bot message, the greeting (0) included" if results.rate_from == 0 else
             f"bot messages from number {results.rate_from} on (0 = the greeting; earlier ones are not rated)")
    return (f'<div class="study-status" id="results-population"><b>Population: {html.escape(population)}</b>. '
            f"{results.total} participants ({per_condition}); each row's n counts those who answered that item. "
            f"{'Left out: ' + left_out + '. ' if left_out else ''}Previews are never counted. As of {now_text()}.<br>"
            f"Per-turn ratings: {rated}; averaged per participant before the tests. Effect sizes: Cohen's d and "
            "Hedges' g (Welch), rank-biserial r (Mann-Whitney; positive when condition a rates higher).</div>")


def _error_bars(table: pd.DataFrame) -> dict[str, Any]:
    return {"type": "data", "symmetric": False, "array": (table["ci_high"] - table["mean"]).tolist(),
            "arrayminus": (table["mean"] - table["ci_low"]).tolist()}


def means_figure(means: pd.DataFrame) -> go.Figure:
    """Each item's mean per condition, with its 95% CI."""
    if means.empty:
        return empty_figure("No answers yet.")
    figure = go.Figure()
    for condition, group in means.groupby("condition", sort=True):
        labels = group["source"] + ": " + group["item"]
        figure.add_bar(name=condition, x=labels, y=group["mean"], error_y=_error_bars(group),
                       customdata=group["n"], hovertemplate="%{x}<br>mean %{y:.2f} (n=%{customdata})<extra>" + condition + "</extra>")
    figure.update_layout(barmode="group", height=380, margin={"l": 40, "r": 20, "t": 30, "b": 80}, legend_title_text="condition")
    return figure


def curves_figure(curves: pd.DataFrame) -> go.Figure:
    """The mean per-turn rating at each bot turn (0 = the greeting) per condition, with 95% CIs."""
    if curves.empty:
        return empty_figure("No per-turn ratings yet.")
    figure = go.Figure()
    for (item, condition), group in curves.groupby(["item", "condition"], sort=True):
        figure.add_scatter(name=f"{condition}: {item}", x=group["turn"], y=group["mean"], mode="lines+markers",
                           error_y=_error_bars(group), customdata=group["n"],
                           hovertemplate="turn %{x}<br>mean %{y:.2f} (n=%{customdata})<extra></extra>")
    figure.update_layout(height=340, margin={"l": 40, "r": 20, "t": 30, "b": 40}, xaxis_title="bot turn (0 = greeting)",
                         yaxis_title="mean rating", xaxis={"dtick": 1})
    return figure


def strategy_figure(strategies: pd.DataFrame) -> go.Figure:
    """The share of each dialogue act among each condition's bot messages."""
    if strategies.empty:
        return empty_figure("No bot messages yet.")
    figure = go.Figure()
    for condition, group in strategies.groupby("condition", sort=True):
        figure.add_bar(name=condition, x=group["act"], y=group["share"], customdata=group["count"],
                       hovertemplate="%{x}: %{y:.0%} (%{customdata} messages)<extra>" + condition + "</extra>")
    figure.update_layout(barmode="group", height=360, margin={"l": 40, "r": 20, "t": 30, "b": 100}, yaxis_tickformat=".0%",
                         legend_title_text="condition")
    return figure


class StudyReader:
    """The dashboard's reads, each in one short transaction of its own."""

    def __init__(self, service: StudyService) -> None:
        self.service = service

    def results(self, population: Population = "completers") -> Results:
        return results_of(study_data(self.service.database, self.service.study.id), population)

    def export(self, root: Path, *, raw_ids: bool) -> list[str]:
        """Write the export files into a fresh folder under `root` (dropping the previous ones); their paths."""
        root.mkdir(parents=True, exist_ok=True)
        for previous in root.iterdir():  # Gradio has copied them into its own cache when they were shown
            shutil.rmtree(previous, ignore_errors=True)
        folder = Path(tempfile.mkdtemp(prefix="export-", dir=root))
        written = write_export(study_data(self.service.database, self.service.study.id, raw_ids=raw_ids), folder)
        return [str(path) for path in sorted(written)]

    def status_counts(self) -> list[tuple[str | None, str, int]]:
        with self.service.database.transaction() as session:
            return crud.status_counts(session, self.service.study_id)

    def unstarted_note(self) -> str:
        """How many quota slots are held by starts whose participant has not written in the chat yet."""
        with self.service.database.transaction() as session:
            held = crud.slots_held_unstarted(session, self.service.study_id)
        minutes = self.service.study.recruitment.start_timeout_minutes
        return (f"{held} slot{'s' if held != 1 else ''} held by unfinished starts (a condition assigned, no message "
                f"written yet); each is released {minutes:g} min after its participant entered.")

    def participation_choices(self) -> list[tuple[str, int]]:
        """Every participation, newest first, previews included (and marked)."""
        with self.service.database.transaction() as session:
            rows = crud.participations(session, self.service.study_id, include_preview=True)
            counts = crud.message_counts(session, [p.id for p in rows])
            return [(participation_label(p, p.condition.name if p.condition else None, counts.get(p.id, 0)), p.id)
                    for p in reversed(rows)]

    def transcript(self, participation_id: Any) -> tuple[Any, str]:
        """(the participation's DialogueRecord, its facts as HTML); (None, "") for an unknown id."""
        number = as_index(participation_id)
        if number is None:
            return None, ""
        with self.service.database.transaction() as session:
            participation = session.get(Participation, number)
            if participation is None or participation.study_id != self.service.study_id:
                return None, ""
            condition = participation.condition.name if participation.condition else None
            info = participation_info_html(participation, condition, crud.answers_of(session, number))
            record = participation_record(self.service.study.id, participation, crud.messages_of(session, number),
                                          self.service.domain, participation.participant_id)
        return record, info
