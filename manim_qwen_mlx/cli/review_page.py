"""The review page: one self-contained HTML file (audio embedded as FLAC) listing a scene file's narrations,
flagged ones first, each with its text, a player, its duration, a waveform, its checks' scores and
whether its bookmark times are only estimated.
Presentation only: the data comes from the cache entries."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from manim_qwen_mlx.synthesis.quality import ChecksRecord

WAVEFORM_POINTS = 400


@dataclass(frozen=True)
class Row:
    text: str  # as written (subcaptions show it)
    entry: dict[str, Any] | None  # None: not in the cache yet
    audio: Path | None
    spoken: str = ""  # what the model says, where pronunciations or the math table changed it
    drafted: bool = False  # a draft mode placeholder stands in for it

    @property
    def checks(self) -> ChecksRecord | None:
        return ChecksRecord.from_json((self.entry or {}).get("checks"))

    @property
    def failures(self) -> list[str]:
        return list(self.checks.kept.failures) if self.checks is not None else []

    @property
    def flagged(self) -> bool:
        return self.entry is None or self.audio is None or bool(self.failures)


def render(title: str, rows: list[Row]) -> str:
    ordered = sorted(rows, key=lambda row: not row.flagged)  # flagged first, else in the scene's order
    flagged = sum(row.flagged for row in rows)
    items = "\n".join(_row(number, row) for number, row in enumerate(ordered, 1))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
section {{ border: 1px solid #ccc; border-radius: 6px; padding: .8rem 1rem; margin: .8rem 0; }}
section.flagged {{ border-color: #c33; background: #fff5f5; }}
.text {{ font-size: 1.05rem; margin-bottom: .4rem; }}
.spoken {{ color: #555; font-style: italic; margin-bottom: .4rem; }}
.meta {{ color: #555; font-size: .9rem; }}
.failures {{ color: #a00; font-weight: 600; }}
.heard {{ color: #333; font-style: italic; }}
svg {{ width: 100%; height: 60px; background: #f4f6f8; }}
audio {{ width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p id="summary">{len(rows)} narration(s), {flagged} flagged</p>
{items}
</body></html>
"""


def _row(number: int, row: Row) -> str:
    css = "flagged" if row.flagged else "ok"
    said = f'<div class="spoken">spoken: {html.escape(row.spoken)}</div>' if row.spoken not in ("", row.text) else ""
    head = f'<section class="{css}" id="n{number}"><div class="text">{html.escape(row.text)}</div>{said}'
    if row.entry is None or row.audio is None:
        why = "not synthesized yet: run manim-qwen-mlx precache" if row.entry is None else "audio file missing"
        why += " (a draft placeholder, silence, stands in for it)" if row.drafted else ""
        return f'{head}<div class="failures">{why}</div></section>'
    pcm, rate = _read(row.audio)
    samples = pcm.mean(axis=1)
    data = base64.b64encode(_flac(pcm, rate)).decode("ascii")
    scores = _scores(row.checks)
    if row.entry.get("word_boundaries_method") == "estimate":  # no aligner was here: times are a guess
        scores += " · bookmark times estimated (no forced aligner), not aligned"
    failures = f'<div class="failures">{html.escape("; ".join(row.failures))}</div>' if row.failures else ""
    return (
        f"{head}{failures}"
        f'<div class="meta">{samples.size / rate:.2f} s{scores}</div>'
        f"{_waveform(samples)}"
        f'<audio controls preload="none" src="data:audio/flac;base64,{data}"></audio></section>'
    )


def _scores(checks: ChecksRecord | None) -> str:
    if checks is None:
        return " &middot; not checked"
    take = checks.kept.scores
    parts = [f"take {checks.chosen + 1} of {len(checks.takes)}"]
    if take.pace is not None:
        parts.append(f"pace {take.pace:.2f}x")
    if take.similarity is not None:
        parts.append(f"voice similarity {take.similarity:.2f}")
    if take.wer is not None:
        parts.append(f"word error rate {take.wer:.2f}")
    heard = take.heard
    said = f'<div class="heard">heard: &ldquo;{html.escape(heard)}&rdquo;</div>' if heard is not None else ""
    return " &middot; " + " &middot; ".join(parts) + said


def _read(path: Path) -> tuple[np.ndarray, int]:
    """The clip's 16-bit samples [N, channels] as the cache wrote them, and its rate."""
    import soundfile as sf

    pcm, rate = sf.read(str(path), dtype="int16", always_2d=True)
    return pcm, int(rate)


def _flac(pcm: np.ndarray, rate: int) -> bytes:
    """16-bit samples as FLAC: lossless (the review hears exactly what renders), about half a WAV's size
    on speech, and played by every current browser, Safari included."""
    import io

    import soundfile as sf

    encoded = io.BytesIO()
    sf.write(encoded, pcm, rate, format="FLAC", subtype="PCM_16")
    return encoded.getvalue()


def _waveform(samples: np.ndarray) -> str:
    """Peaks of ``WAVEFORM_POINTS`` equal slices as an SVG polygon (upper and mirrored lower edge)."""
    if samples.size == 0:
        return "<svg></svg>"
    slices = np.array_split(np.abs(samples), min(WAVEFORM_POINTS, samples.size))
    peaks = np.array([s.max() for s in slices]) / max(float(np.abs(samples).max()), 1e-9)
    xs = np.linspace(0, 1000, peaks.size)
    upper = " ".join(f"{x:.1f},{30 - 28 * p:.1f}" for x, p in zip(xs, peaks, strict=True))
    lower = " ".join(f"{x:.1f},{30 + 28 * p:.1f}" for x, p in zip(xs[::-1], peaks[::-1], strict=True))
    return (
        '<svg viewBox="0 0 1000 60" preserveAspectRatio="none">'
        f'<polygon class="wave" points="{upper} {lower}" fill="#4a7bd0"/></svg>'
    )
