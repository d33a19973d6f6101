"""What the model is asked to say for a written narration: names and math in words.

Qwen3-TTS takes no phonemes, so the practical control is the text it speaks. The written narration (what
subcaptions show) becomes its spoken form by, in this order of precedence:

1. the user's pronunciations, whole words: ``{"Euler": "Oiler"}``. A key with a capital letter matches that
   case only ("LaTeX", not "latex"); an all-lowercase key matches any case ("gif" also "GIF");
2. a small English table for math (``math_speech``): superscripts 2 and 3, Greek letters, relations and
   operators (≤ ≥ ≠ ± times ÷ √ ∞ →), and inline ``$...$`` LaTeX made only of what it knows (``\\frac``, ``^``,
   ``_``, ``\\sqrt``, Greek letters, relations and operators, letters and numbers). What it does not know it
   leaves as written. A user pronunciation of the same symbol ("θ": "theta angle") wins.

``Spoken.origin`` maps each spoken character back to the written character it came from, so word times
measured on the spoken text (the aligner's, or the estimate) land on the written words, and a bookmark
before a written token gets the time of the first word spoken for it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from manim_qwen_mlx.core.errors import SettingsError

FILE_NAME = "pronunciations.toml"  # beside the scene file, as manim finds its manim.cfg

GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "zeta": "ζ", "eta": "η",
    "theta": "θ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν", "xi": "ξ", "pi": "π",
    "rho": "ρ", "sigma": "σ", "tau": "τ", "phi": "φ", "chi": "χ", "psi": "ψ", "omega": "ω",
    "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Omega": "Ω",
}
SYMBOLS = {
    "²": " squared", "³": " cubed", "≤": " less than or equal to ", "≥": " greater than or equal to ",
    "≠": " not equal to ", "±": " plus or minus ", "×": " times ", "÷": " divided by ", "√": " the square root of ",
    "∞": " infinity ", "→": " to ", **{letter: f" {name.lower()} " for name, letter in GREEK.items()},
}
LATEX_WORDS = {
    **{name: f" {name.lower()} " for name in GREEK}, "cdot": " times ", "times": " times ", "div": " divided by ",
    "le": " less than or equal to ", "leq": " less than or equal to ", "ge": " greater than or equal to ",
    "geq": " greater than or equal to ", "ne": " not equal to ", "neq": " not equal to ", "pm": " plus or minus ",
    "infty": " infinity ", "to": " to ",
}
LATEX_SIGNS = {"+": " plus ", "-": " minus ", "=": " equals ", "<": " less than ", ">": " greater than ",
               "(": " ", ")": " ", ",": ", "}
POWERS = {"2": " squared", "3": " cubed"}
INLINE_MATH = re.compile(r"\$([^$\n]+)\$")


@dataclass(frozen=True)
class Spoken:
    text: str
    origin: tuple[int, ...]  # for each index of ``text``, and its end: the index in the written text


def speak(written: str, pronunciations: Mapping[str, str] | None = None, math: bool = True) -> Spoken:
    """The spoken form of ``written`` (normalised text: whitespace already folded)."""
    replaced: list[tuple[int, int, str]] = []  # written [start, end) -> spoken words, not overlapping

    def free(start: int, end: int) -> bool:
        return all(end <= a or start >= b for a, b, _ in replaced)

    for key, said in (pronunciations or {}).items():
        flags = 0 if any(ch.isupper() for ch in key) else re.IGNORECASE
        for found in re.finditer(rf"(?<!\w){re.escape(key)}(?!\w)", written, flags):
            start, end = found.start(), found.end()
            if free(start, end):  # spaced off only where it touches a letter or digit ("2θ")
                left = " " if start > 0 and written[start - 1].isalnum() else ""
                right = " " if end < len(written) and written[end].isalnum() else ""
                replaced.append((start, end, f"{left}{said}{right}"))
    if math:
        for found in INLINE_MATH.finditer(written):
            words = latex_words(found.group(1))
            if words is not None and free(found.start(), found.end()):
                replaced.append((found.start(), found.end(), words))
        for index, ch in enumerate(written):
            if ch in SYMBOLS and free(index, index + 1):
                replaced.append((index, index + 1, SYMBOLS[ch]))
    return _assemble(written, sorted(replaced))


def latex_words(source: str) -> str | None:
    """Inline LaTeX in English words, or None where any part of it is not understood; and None for what
    reads as prose between two dollar signs ("costs $5 and $6": a word of two letters outside a command)."""
    if re.search(r"[A-Za-z]{2,}", re.sub(r"\\[A-Za-z]+", "", source)):
        return None
    tokens = re.findall(r"\\[A-Za-z]+|[A-Za-z]|\d+(?:\.\d+)?|\S", source)
    words, position = _expression(tokens, 0)
    return None if words is None or position != len(tokens) else " " + words + " "


def _expression(tokens: list[str], at: int, closing: str | None = None) -> tuple[str | None, int]:
    said: list[str] = []
    while at < len(tokens) and tokens[at] != closing:
        token = tokens[at]
        if token in ("^", "_"):
            found, at = _argument(tokens, at + 1)
            if found is None:
                return None, at
            bare = found.strip()
            said.append(POWERS.get(bare, f" to the power of {bare} ") if token == "^" else f" sub {bare} ")
            continue
        if token == "\\frac":
            top, at = _argument(tokens, at + 1)
            bottom, at = _argument(tokens, at)
            if top is None or bottom is None:
                return None, at
            said.append(f" {top} over {bottom} ")
            continue
        if token == "\\sqrt":
            inside, at = _argument(tokens, at + 1)
            if inside is None:
                return None, at
            said.append(f" the square root of {inside} ")
            continue
        if token.startswith("\\"):
            if token[1:] not in LATEX_WORDS:
                return None, at
            said.append(LATEX_WORDS[token[1:]])
        elif token in LATEX_SIGNS:
            said.append(LATEX_SIGNS[token])
        elif token.isalnum() or re.fullmatch(r"\d+\.\d+", token):
            said.append(f" {token} ")
        else:
            return None, at
        at += 1
    return " ".join(" ".join(said).split()), at


def _argument(tokens: list[str], at: int) -> tuple[str | None, int]:
    """A braced group or a single token, in words; and the position after it."""
    if at >= len(tokens):
        return None, at
    if tokens[at] == "{":
        inside, end = _expression(tokens, at + 1, closing="}")
        return (inside, end + 1) if inside is not None and end < len(tokens) else (None, end)
    inside, _ = _expression(tokens[at : at + 1], 0)
    return inside, at + 1


def _assemble(written: str, replaced: list[tuple[int, int, str]]) -> Spoken:
    """The spoken text, whitespace folded, each character with the written index it came from."""
    chars: list[str] = []
    origin: list[int] = []

    def put(text: str, where: int | None) -> None:
        for offset, ch in enumerate(text):
            if ch.isspace():
                if chars and chars[-1] != " ":
                    chars.append(" ")
                    origin.append(where if where is not None else index + offset)
                continue
            if ch in ",.;:!?" and chars and chars[-1] == " ":
                chars.pop()  # a replacement's space before the sentence's punctuation
                origin.pop()
            chars.append(ch)
            origin.append(where if where is not None else index + offset)

    index = 0
    for start, end, said in replaced:
        put(written[index:start], None)
        index = start
        put(said, start)
        index = end
    put(written[index:], None)
    while chars and chars[-1] == " ":
        chars.pop()
        origin.pop()
    while chars and chars[0] == " ":
        chars.pop(0)
        origin.pop(0)
    return Spoken("".join(chars), (*origin, len(written)))


def checked(raw: object, source: str = "pronunciations") -> dict[str, str]:
    """``raw`` as pronunciations (None: none), or an error that says what they must be."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and k.strip() for k in raw):
        raise SettingsError(f"{source} must be a dict of words to what to say, e.g. {{'Euler': 'Oiler'}}, "
                            f"got {raw!r}.")
    wrong = [key for key, said in raw.items() if not isinstance(said, str) or not said.strip()]
    if wrong:
        raise SettingsError(f"{source}: {', '.join(map(repr, wrong))} must each be given a non-empty text to say, "
                            "e.g. Euler = \"Oiler\".")
    return {str(key): str(said) for key, said in raw.items()}


def read_pronunciations(path: Path) -> dict[str, str]:
    """A project's pronunciations file (``word = "how to say it"`` a line); none when there is no file."""
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path} cannot be read ({exc}). Write one `word = \"how to say it\"` a line, "
                            'quoting words that are not plain letters: "x²" = "x squared".') from exc
    return checked(table, str(path))
