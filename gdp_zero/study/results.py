"""A study's results for one analysis population: every table the dashboard shows, from one read of its data.

The population is explicit (stats.POPULATIONS): completers by default, or everyone assigned a
condition. Each result says who is in it: the participants per condition it counts, and why the
others were left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gdp_zero.study import stats
from gdp_zero.study.export import StudyData
from gdp_zero.study.spec import Study, is_numeric
from gdp_zero.study.stats import Population


@dataclass(frozen=True)
class Results:
    """The statistics of the study so far, over `population`."""

    population: Population
    participants: dict[str, int]  # per condition: the participants counted (the n of every table's rows at most)
    excluded: dict[str, int]  # assigned participants left out, by why (empty for everyone)
    rate_from: int  # the first bot message rated (0 = the greeting)
    means: pd.DataFrame  # stats.item_summary
    tests: pd.DataFrame  # stats.compare_conditions, the pre -> post change included
    prepost: pd.DataFrame  # stats.pre_post_change per item asked before and after, with its item
    curves: pd.DataFrame  # stats.turn_curves
    strategies: pd.DataFrame  # stats.strategy_share of the counted participants' bot messages

    @property
    def total(self) -> int:
        return sum(self.participants.values())


def repeated_items(study: Study) -> list[str]:
    """Numeric items asked in both surveys (e.g. donation intention): their pre -> post change is reported."""
    post = {item.id for item in study.post_survey if is_numeric(item)}
    return [item.id for item in study.pre_survey if item.id in post and is_numeric(item)]


def results_of(data: StudyData, population: Population = "completers") -> Results:
    """All the dashboard's statistics over `population`, from one read of the study's data."""
    responses = data.responses(population)
    analysed = data.analysed(population)
    items = repeated_items(data.study)
    changes = [stats.change_responses(responses, item) for item in items]
    tests = stats.compare_conditions(pd.concat([responses, *changes], ignore_index=True) if changes else responses)
    prepost = [stats.pre_post_change(responses, item).assign(item=item) for item in items]
    messages = data.messages[data.messages["participant"].isin(analysed["participant"])]
    return Results(
        population=population,
        participants={str(c): int(n) for c, n in analysed.groupby("condition").size().items()},
        excluded={} if population == "everyone" else stats.exclusions(data.participants),
        rate_from=data.study.chat.rate_from,
        means=stats.item_summary(responses),
        tests=tests,
        prepost=pd.concat(prepost, ignore_index=True) if prepost else pd.DataFrame(),
        curves=stats.turn_curves(responses),
        strategies=stats.strategy_share(messages),
    )
