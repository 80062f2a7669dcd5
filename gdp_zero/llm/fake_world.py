"""The fake server's canned PersuasionForGood world: texts by act, a keyword tagger, a simple persuadee.

The demo is the first thing a new user sees, so the fake must be coherent even though every
line is canned: a text is only ever tagged with the act it was written for, the persuader greets
at the start and hardly ever again, and the simulated persuadee reacts to the act it was just
given (an appeal warms it up, a blunt early request or a repeated act cools it down), carrying
its mood from earlier replies. The value question is answered by the same persuadee, so the
search's values follow the acts it tries.

With a persona in the prompt (self-play), the persuadee also has a taste no prompt states: one
appeal it warms to and one it resents, drawn from a hash of its description. It introduces itself
in its first reply, so a reflection memory can learn which persuadee liked what from outcomes and
recall it when the same kind of persuadee shows up again; the canned policy follows the lessons
it is shown (`Worked: [act]` / `Backfired: [act]`), as a model follows advice in its prompt.

Prompts are read through their marker lines (see `gdp_zero.roles.prompts`): `Allowed acts:`,
`Reply format:`, the conversation after `A new conversation:` and, for the tagger, `now says:`.
Acts the tables do not know (another domain, a test's made-up act) get even odds and generic text.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from dataclasses import dataclass

NO_MARKER_REPLY = "(canned reply) OK."
GENERIC_LINES = ("I see what you mean.", "That is an interesting point.")
# Simulated users would end dialogues at once if "donate" were as likely as any other act.
DONATE_WEIGHT = 0.15

PERSUADER_LINES: dict[str, tuple[str, ...]] = {
    "greeting": ("Hello! How are you doing today?", "Hi there, nice to meet you. How is your day going?"),
    "logical appeal": (
        "Even a small donation buys food and medicine for a child who would otherwise go without.",
        "Every dollar given to Save the Children goes a long way where it is needed most.",
    ),
    "emotion appeal": (
        "Imagine how it feels to be a child with nothing to eat tonight.",
        "Millions of children are suffering, and it breaks my heart to think about it.",
    ),
    "credibility appeal": (
        "Save the Children has been helping kids for over a hundred years.",
        "The charity is well rated and reports clearly how it spends donations.",
    ),
    "foot in the door": (
        "Would you be open to giving just a few cents to start?",
        "Even a tiny amount would be a great first step.",
    ),
    "self-modeling": ("I am going to donate part of my own earnings today.", "I give to them myself."),
    "personal story": (
        "I once met a family whose children were helped by a program like this.",
        "A friend of mine volunteered with them and saw the difference it makes.",
    ),
    "donation information": (
        "Your donation would be taken directly from your task payment.",
        "You can give any amount from zero up to your full payment.",
    ),
    "source-related inquiry": ("Have you heard of Save the Children before?", "Do you know what this charity does?"),
    "task-related inquiry": ("Have you ever donated to a charity like this?", "What do you think about this task?"),
    "personal-related inquiry": ("Do you have any children yourself?", "What kinds of causes do you care about?"),
    "proposition of donation": (
        "Would you like to donate part of your payment to Save the Children?",
        "How much would you like to donate today?",
    ),
    "other": ("Thank you for chatting with me.", "I appreciate your time."),
}

# Each line is written so that the tagger below gives it its own act (a test checks every one).
PERSUADEE_LINES: dict[str, tuple[str, ...]] = {
    "no donation": (
        "I don't think I will donate anything today.",
        "Sorry, I'd rather keep my money.",
        "No thanks, I won't be giving anything.",
    ),
    "negative reaction": (
        "I'm not convinced these charities really help.",
        "That sounds a bit pushy to me.",
        "Honestly, this sounds like a sales pitch.",
    ),
    "neutral": ("Okay, I see.", "Hmm, tell me more.", "I'm doing fine, thanks. What is this about?"),
    "positive reaction": (
        "That sounds like a really good cause.",
        "Wow, I didn't know that, it's great.",
        "I like that they help kids so directly.",
    ),
    "donate": ("Alright, I'll donate some of my payment.", "Okay, count me in for a donation."),
}

# The tagger's keywords, checked in this order: a refusal is recognised before the word "donate" in it.
TAGGER_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("no donation", (
        "won't donate", "will not donate", "not donate", "don't want to donate", "won't be giving", "not giving",
        "not going to give", "keep my money", "no thanks", "no, thank", "pass on", "not interested", "can't afford",
        "won't give", "don't think i will donate", "nothing today",
    )),
    ("donate", (
        "i'll donate", "i will donate", "i'd like to donate", "i want to donate", "count me in", "i'll give",
        "i will give", "take $", "donate $", "give $", "sign me up", "happy to donate", "let's do it",
    )),
    ("negative reaction", (
        "not convinced", "pushy", "sales pitch", "scam", "doubt", "don't trust", "skeptic", "sceptic", "annoying",
        "not sure", "waste", "don't believe", "suspicious", "overhead", "why should i", "stop", "leave me",
    )),
    ("positive reaction", (
        "good cause", "great", "wonderful", "amazing", "love", "i like", "glad", "nice", "sounds good",
        "that's good", "impressive", "touching", "awesome", "worthy", "makes sense", "interested",
    )),
)

USER_LEANING = {"no donation": -1.0, "negative reaction": -0.5, "neutral": 0.0, "positive reaction": 0.5, "donate": 1.0}
APPEALS = frozenset({"logical appeal", "emotion appeal", "credibility appeal", "self-modeling", "personal story"})
INQUIRIES = frozenset({"source-related inquiry", "task-related inquiry", "personal-related inquiry"})

# How the persuadee tends to react to each persuader act, before its mood:
# weights of (no donation, negative reaction, neutral, positive reaction, donate).
REACTIONS: dict[str, tuple[float, float, float, float, float]] = {
    "greeting": (0.0, 0.05, 0.7, 0.25, 0.0),
    "logical appeal": (0.03, 0.2, 0.3, 0.42, 0.05),
    "emotion appeal": (0.03, 0.2, 0.25, 0.47, 0.05),
    "credibility appeal": (0.03, 0.15, 0.35, 0.42, 0.05),
    "foot in the door": (0.12, 0.15, 0.2, 0.3, 0.23),
    "self-modeling": (0.03, 0.15, 0.35, 0.42, 0.05),
    "personal story": (0.03, 0.1, 0.37, 0.45, 0.05),
    "donation information": (0.03, 0.1, 0.47, 0.35, 0.05),
    "source-related inquiry": (0.0, 0.05, 0.8, 0.15, 0.0),
    "task-related inquiry": (0.0, 0.1, 0.75, 0.15, 0.0),
    "personal-related inquiry": (0.0, 0.1, 0.75, 0.15, 0.0),
    "proposition of donation": (0.25, 0.15, 0.15, 0.15, 0.3),
    "other": (0.03, 0.1, 0.7, 0.17, 0.0),
}
# A greeting after the opening is odd: the persuadee wonders what is going on.
LATE_GREETING = (0.1, 0.6, 0.3, 0.0, 0.0)
# A persona's reaction to the appeal it likes and to the one it resents (see `taste`).
LIKED_REACTION = (0.0, 0.05, 0.15, 0.6, 0.2)
DISLIKED_REACTION = (0.3, 0.6, 0.1, 0.0, 0.0)
# How much the canned policy follows a lesson in its prompt.
LESSON_BOOST, LESSON_DAMPING = 4.0, 0.1


@dataclass(frozen=True)
class Line:
    speaker: str
    act: str
    text: str


def canned_reply(prompt: str, rng: random.Random) -> str:
    """The reply our prompt markers ask for: `[act]`, `[act] sentence`, `[side] argument` or `Lesson: ...`."""
    acts = allowed_acts(prompt)
    if not acts:
        return NO_MARKER_REPLY
    reply_format = (last_line(prompt, "Reply format:") or "").lower()
    conversation = conversation_lines(prompt)
    if "lesson" in reply_format:
        return reflect(conversation)
    if "argument" in reply_format:
        return f"[{acts[0]}] {argue(acts[0], conversation)}"
    with_utterance = "utterance" in reply_format
    said = _quoted_message(prompt)
    if said is not None and not with_utterance:
        return f"[{tag(said, acts)}]"
    persona = _persona(prompt)
    weights = _weights(acts, conversation, persona, _lessons(prompt))
    act = rng.choices(acts, weights=[weights[a] for a in acts])[0]
    if not with_utterance:
        return f"[{act}]"
    lines = PERSUADER_LINES.get(act) or PERSUADEE_LINES.get(act) or GENERIC_LINES
    text = rng.choice(lines)
    if persona is not None and act in USER_LEANING and _persuader_turns(conversation) == 1:
        text = f"{text} {introduction(persona)}"
    return f"[{act}] {text}"


@dataclass(frozen=True)
class Taste:
    """A persona's hidden preference: the appeal it warms to and the one it resents."""

    liked: str
    disliked: str


def taste(persona: str) -> Taste:
    """Drawn from a hash of the description, so no word in it gives the preference away."""
    digest = hashlib.sha256(persona.encode()).digest()
    appeals = sorted(APPEALS)
    liked = appeals[digest[0] % len(appeals)]
    others = [a for a in appeals if a != liked]
    return Taste(liked, others[digest[1] % len(others)])


def introduction(persona: str) -> str:
    """What the persuadee says of itself in its first reply: the description's first sentence."""
    first = re.split(r"(?<=[.!?])\s", persona.strip(), maxsplit=1)[0].rstrip(".!?")
    return f"A bit about me: {first[:1].lower()}{first[1:]}."


def reflect(conversation: list[Line]) -> str:
    """The canned reflection: which persuader act drew the warmest and the coldest replies."""
    opener = conversation[0].speaker if conversation else None
    drawn: dict[str, list[float]] = {}
    for said, answer in itertools.pairwise(conversation):
        if said.speaker == opener and answer.speaker != opener and answer.act in USER_LEANING:
            drawn.setdefault(said.act, []).append(USER_LEANING[answer.act])
    means = {act: sum(v) / len(v) for act, v in drawn.items() if act in APPEALS | {"foot in the door"}}
    parts = []
    if means and max(means.values()) > 0:
        parts.append(f"Worked: [{max(means, key=lambda a: means[a])}].")
    if means and min(means.values()) < 0:
        parts.append(f"Backfired: [{min(means, key=lambda a: means[a])}].")
    return "Lesson: " + (" ".join(parts) if parts else "Nothing stood out in this conversation.")


def argue(side: str, conversation: list[Line]) -> str:
    """The canned advocate: the persuadee's reply that best supports `side`, and how many did."""
    opener = conversation[0].speaker if conversation else None
    replies = [line for line in conversation if line.speaker != opener and line.act in USER_LEANING]
    hopeful = "not" not in side.lower()
    support = [line for line in replies if (USER_LEANING[line.act] > 0) == hopeful and USER_LEANING[line.act] != 0]
    if not support:
        return f"Nothing the persuadee said so far points that way, and {len(replies)} replies were heard."
    best = max(support, key=lambda line: USER_LEANING[line.act] * (1 if hopeful else -1))
    return f"{len(support)} of {len(replies)} replies point this way, e.g. [{best.act}] \"{best.text[:80]}\""


def _persona(prompt: str) -> str | None:
    match = re.search(r"^The [^\n:]{1,40} in this conversation: (.+)$", prompt, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


def _lessons(prompt: str) -> tuple[set[str], set[str]]:
    """The acts lessons in the prompt say worked, and those they say backfired."""
    worked = set(re.findall(r"Worked: \[([^\]]+)\]", prompt))
    backfired = set(re.findall(r"Backfired: \[([^\]]+)\]", prompt))
    return worked, backfired


def tag(text: str, acts: list[str]) -> str:
    """The act a person's line expresses, by keywords; the neutral act (or the first allowed) otherwise."""
    lowered = " ".join(text.lower().replace("’", "'").split())
    for act, keywords in TAGGER_KEYWORDS:
        if act in acts and any(k in lowered for k in keywords):
            return act
    return "neutral" if "neutral" in acts else acts[0]


def base_weight(act: str) -> float:
    """An act's weight without context: even odds, except that "donate" is rare."""
    return DONATE_WEIGHT if act.lower() == "donate" else 1.0


def _weights(
    acts: list[str], conversation: list[Line], persona: str | None = None,
    lessons: tuple[set[str], set[str]] = (set(), set()),
) -> dict[str, float]:
    if any(a in REACTIONS for a in acts) and not any(a in USER_LEANING for a in acts):
        weights = _persuader_weights(acts, conversation)
        worked, backfired = lessons
        return {a: w * (LESSON_BOOST if a in worked else 1.0) * (LESSON_DAMPING if a in backfired else 1.0)
                for a, w in weights.items()}
    if conversation and set(acts) >= set(USER_LEANING) and conversation[-1].act in REACTIONS:
        return _persuadee_weights(acts, conversation, persona)
    return {a: base_weight(a) for a in acts}


def _persuader_turns(conversation: list[Line]) -> int:
    opener = conversation[0].speaker if conversation else None
    return sum(line.speaker == opener for line in conversation)


def _persuader_weights(acts: list[str], conversation: list[Line]) -> dict[str, float]:
    """The policy: greet first and only first, inquire early, ask for money once the persuadee warms up."""
    opener = conversation[0].speaker if conversation else None
    persuader_turns = [line for line in conversation if line.speaker == opener]
    reactions = [line.act for line in conversation if line.speaker != opener]
    warm = bool(reactions) and USER_LEANING.get(reactions[-1], 0.0) > 0
    weights = {}
    for act in acts:
        if act == "greeting":
            weight = 1.0 if not persuader_turns else 0.02
        elif act in INQUIRIES:
            weight = 1.0 if len(persuader_turns) < 3 else 0.3
        elif act in ("proposition of donation", "donation information"):
            weight = 1.5 if warm else 0.5
        elif act == "other":
            weight = 0.3
        else:
            weight = 1.0
        weights[act] = weight
    return weights


def _persuadee_weights(acts: list[str], conversation: list[Line], persona: str | None = None) -> dict[str, float]:
    """The persuadee's reaction to the persuader's last act, tilted by its mood so far (and its taste)."""
    last = conversation[-1]
    persuader = [line.act for line in conversation if line.speaker == last.speaker]
    late_greeting = last.act == "greeting" and len(persuader) > 1
    reaction = list(LATE_GREETING if late_greeting else REACTIONS[last.act])
    if persona is not None:
        preference = taste(persona)
        if last.act == preference.liked:
            reaction = list(LIKED_REACTION)
        elif last.act == preference.disliked:
            reaction = list(DISLIKED_REACTION)
    if len(persuader) > 1 and persuader[-2] == last.act:  # the same act twice in a row wears thin
        reaction[1] *= 2.5
    if last.act == "proposition of donation" and not APPEALS & set(persuader):
        reaction[4] *= 0.3  # asked for money before any reason to give
    mood = _mood(conversation, last.speaker)
    names = ("no donation", "negative reaction", "neutral", "positive reaction", "donate")
    weights = {}
    for name, weight in zip(names, reaction):
        leaning = USER_LEANING[name]
        tilt = 1.0 + mood * (1.0 if leaning > 0 else -1.0 if leaning < 0 else 0.0)
        weights[name] = weight * max(tilt, 0.05)
    return {a: weights.get(a, 0.0) for a in acts}


def _mood(conversation: list[Line], persuader: str) -> float:
    """In [-1, 1]: the persuadee's last few reactions, warmed by reasons to give, cooled by odd moves."""
    leanings = [USER_LEANING[line.act] for line in conversation if line.speaker != persuader and line.act in USER_LEANING]
    acts = [line.act for line in conversation if line.speaker == persuader]
    recent = leanings[-3:]
    mood = sum(recent) / len(recent) if recent else 0.0
    mood += 0.15 * min(len(APPEALS & set(acts)), 3)
    mood -= 0.8 * sum(1 for act in acts[1:] if act == "greeting")
    mood -= 0.2 * sum(1 for before, after in zip(acts, acts[1:]) if before == after)
    return max(-1.0, min(1.0, mood))


def allowed_acts(prompt: str) -> list[str]:
    line = last_line(prompt, "Allowed acts:")
    return [a.strip() for a in re.findall(r"\[([^\]]+)\]", line or "") if a.strip()]


def last_line(text: str, prefix: str) -> str | None:
    found = None
    for line in text.splitlines():
        if line.lstrip().startswith(prefix):
            found = line.lstrip()[len(prefix):]
    return found


_LINE = re.compile(r"^([^:\[\]\n]{1,40}): \[([^\]]+)\] ?(.*)$")


def conversation_lines(prompt: str) -> list[Line]:
    """The lines after the last `A new conversation:` up to the first line that is not one."""
    _, found, rest = prompt.rpartition("A new conversation:")
    if not found:
        return []
    lines = []
    for raw in rest.strip("\n").splitlines():
        match = _LINE.match(raw.strip())
        if match is None:
            break
        lines.append(Line(*match.groups()))
    return lines


def _quoted_message(prompt: str) -> str | None:
    """The person's message in the tagger's instruction (`... now says: "<json string>"`)."""
    match = re.search(r' now says: ("(?:[^"\\]|\\.)*")', prompt)
    if match is None:
        return None
    try:
        return str(json.loads(match.group(1)))
    except ValueError:
        return None
