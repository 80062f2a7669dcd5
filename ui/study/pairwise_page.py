"""The page of a pairwise study (gdp_zero.study.pairwise): two finished dialogues side by side (stacked on a
phone), one forced choice per question, the next pair after the answers are stored, a completion code at
the end; and the researcher's page: the leaderboard of each question from the stored answers.

The participant is whoever the recruitment link names (`?PROLIFIC_PID=...`); their judgments are stored
under its salted hash. Which pair is the attention check is never shown.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

import gradio as gr
import pandas as pd

from gdp_zero.arena.leaderboard import VotesError
from gdp_zero.arena.report import unbounded_text
from gdp_zero.records import DialogueRecord
from gdp_zero.study.db import Database
from gdp_zero.study.pairwise import (
    QUESTIONS, AnswerRefused, LoadedStudy, Pair, answered_positions, pairwise_leaderboard, participant_pairs, save_answers,
    voter_of,
)
from ui import chat_view

CHOICES = [("Persuader A", "a"), ("Persuader B", "b")]
NO_ID = "This page needs the link from the study's recruitment page (it names you to the study). Please open that link."
BOARD_ROUNDS = 400  # bootstrap resamples on the researcher's page


def dialogue_messages(record: DialogueRecord) -> list[dict[str, Any]]:
    """A finished dialogue as chat messages: the persuader on the left, the persuadee on the right."""
    return [{"role": "assistant" if turn.speaker == "system" else "user", "content": chat_view.message_text(turn.text)}
            for turn in record.turns]


def build_pairwise_app(loaded: LoadedStudy, database: Database) -> gr.Blocks:
    study = loaded.study
    param = study.participant_param
    with gr.Blocks(title=study.title) as demo:
        gr.HTML(f'<h1 class="study-title">{html.escape(study.title)}</h1>')
        intro = gr.Markdown("Read both conversations. In each, a **persuader** asks the other person to donate to "
                            "Save the Children. Then say which persuader did better on each question.", visible=False)
        progress = gr.HTML("", elem_id="pairwise-progress")
        position = gr.State(None)
        with gr.Row(equal_height=False, visible=False) as dialogues:
            chats = [gr.Chatbot(elem_id=f"pairwise-chat-{side}", elem_classes=["pairwise-chat"], label=f"Persuader {side.upper()}",
                                height=460, sanitize_html=True, render_markdown=True, latex_delimiters=[], allow_tags=False,
                                group_consecutive_messages=False, feedback_options=None, buttons=[], layout="bubble",
                                min_width=300, autoscroll=False)  # a finished dialogue is read from its start
                     for side in ("a", "b")]
        radios = [gr.Radio(CHOICES, label=QUESTIONS[q], elem_id=f"pairwise-{q}", visible=False) for q in study.questions]
        notice = gr.HTML("", elem_id="pairwise-notice")
        submit = gr.Button("Save and continue", elem_id="pairwise-submit", variant="primary", visible=False)

        def page(recruitment_id: str | None, note: str = "") -> list[Any]:
            if not recruitment_id:
                return [gr.Markdown(visible=False), chat_view.status_html(NO_ID, "hint"), None, gr.Row(visible=False),
                        [], [], *[gr.Radio(visible=False) for _ in radios], "", gr.Button(visible=False)]
            voter = voter_of(database, recruitment_id)
            pairs = participant_pairs(loaded, voter)
            done = answered_positions(database, study, voter)
            todo = [k for k in range(len(pairs)) if k not in done]
            if not todo:
                code = (f' Your completion code: <code id="completion-code">{html.escape(study.completion_code)}</code>'
                        if study.completion_code else "")
                finished = f'<div class="study-notice study-closed" id="pairwise-done">Thank you: all your answers are saved.{code}</div>'
                return [gr.Markdown(visible=False), finished, None, gr.Row(visible=False), [], [],
                        *[gr.Radio(visible=False) for _ in radios], "", gr.Button(visible=False)]
            current: Pair = pairs[todo[0]]
            shown = f'<div class="study-status">Pair {len(done) + 1} of {len(pairs)}</div>'
            return [gr.Markdown(visible=True), shown, todo[0], gr.Row(visible=True),
                    dialogue_messages(current.a.record), dialogue_messages(current.b.record),
                    *[gr.Radio(value=None, visible=True) for _ in radios], note, gr.Button(visible=True)]

        outputs = [intro, progress, position, dialogues, *chats, *radios, notice, submit]

        def on_load(request: gr.Request) -> list[Any]:
            return page(request.query_params.get(param))

        async def submitted(request: gr.Request, shown: int | None, *answers: str | None) -> list[Any]:
            recruitment_id = request.query_params.get(param)
            if not recruitment_id or shown is None:
                return page(recruitment_id)
            voter = voter_of(database, recruitment_id)
            pair = participant_pairs(loaded, voter)[shown]
            try:
                await asyncio.to_thread(save_answers, database, study, voter, shown, pair, dict(zip(study.questions, answers)))
            except AnswerRefused as refused:
                update = page(recruitment_id, chat_view.status_html(str(refused), "hint"))
                if update[2] == shown:  # the same pair again: keep what was already picked
                    update[6:6 + len(radios)] = [gr.Radio(value=a, visible=True) for a in answers]
                return update
            return page(recruitment_id)

        demo.load(on_load, outputs=outputs)
        submit.click(submitted, inputs=[position, *radios], outputs=outputs)
        for radio in radios:  # a person answering what was missing is no longer told it is missing
            radio.input(lambda: "", outputs=notice, queue=False, show_progress="hidden")
    return demo


def build_pairwise_admin(loaded: LoadedStudy, database: Database) -> gr.Blocks:
    """The researcher's page: per question, the Bradley–Terry leaderboard of the stored answers."""
    with gr.Blocks(title=f"{loaded.study.title}: results") as admin:
        gr.HTML(f'<h1 class="study-title">{html.escape(loaded.study.title)}: leaderboard</h1>')
        refresh = gr.Button("Refresh", elem_id="pairwise-refresh")
        notes, tables = [], []
        for question in loaded.study.questions:
            gr.Markdown(f"**{QUESTIONS[question]}**")
            notes.append(gr.HTML("", elem_id=f"pairwise-board-note-{question}"))
            tables.append(gr.Dataframe(pd.DataFrame(), elem_id=f"pairwise-board-{question}", interactive=False))

        def boards() -> list[Any]:
            shown_notes, shown_tables = [], []
            for question in loaded.study.questions:
                try:
                    board = pairwise_leaderboard(database, loaded.study, question, rounds=BOARD_ROUNDS, seed=0)
                except VotesError as error:
                    shown_notes.append(chat_view.status_html(f"No leaderboard: {error}.", "hint"))
                    shown_tables.append(pd.DataFrame())
                    continue
                shown_notes.append(chat_view.status_html(f"{board.votes} judgments. {unbounded_text(board)}".strip(), "info"))
                shown_tables.append(board.table())
            return [*shown_notes, *shown_tables]

        refresh.click(boards, outputs=[*notes, *tables])
        admin.load(boards, outputs=[*notes, *tables])
    return admin


def serve_pairwise(loaded: LoadedStudy, *, database_url: str, host: str, port: int, admin_password: str | None,
                   local_only: bool = False) -> int:
    """`gdp-zero pairwise serve`: the pairs at `/`, the leaderboard at /admin/, behind the study server's guards
    (the preview at /preview/ is the participant page: a researcher's own link id is stored like anyone's)."""
    from gdp_zero.serving.server import run as run_server
    from gdp_zero.serving.signals import stop_on_sigterm
    from gdp_zero.study.db import open_database, redacted
    from ui.gradio_cache import private_gradio_cache
    from ui.study.server import ADMIN_PATH, build_server, check_admin_exposure

    stop_on_sigterm()
    private_gradio_cache()
    password = (admin_password or "").strip() or None
    check_admin_exposure(host, password, local_only)
    database = open_database(database_url)
    try:
        app = build_server(build_pairwise_app(loaded, database), build_pairwise_admin(loaded, database),
                           build_pairwise_app(loaded, database), password=password)
        base = f"http://{host}:{port}"
        param = loaded.study.participant_param
        print(f"Pairwise study {loaded.study.id!r} ({loaded.study.title}) on {redacted(database_url)}: "
              f"{len(loaded.candidates)} dialogues of {', '.join(loaded.persuaders)}", flush=True)
        print(f"Participants: {base}/?{param}=...  (on Prolific: {base}/?{param}={{{{%PROLIFIC_PID%}}}})", flush=True)
        print(f"Leaderboard: {base}{ADMIN_PATH}/", flush=True)
        run_server(app, host=host, port=port)
    finally:
        database.dispose()
    return 0
