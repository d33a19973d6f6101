"""What the cache holds, for people: one line per entry, totals, problems; pruning by scene file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manim_qwen_mlx.cache import Entry, NarrationCache
from manim_qwen_mlx.cache.key import cache_key
from manim_qwen_mlx.cache.owners import Owner, recorded, with_owners
from manim_qwen_mlx.core.defaults import SERVICE_NAME
from manim_qwen_mlx.core.text import shorten

DRAFTS = "drafts"  # draft mode's placeholders (voiceover/draft.py): silence of a narration's estimated length


@dataclass(frozen=True)
class Item:
    status: str  # ok, missing (audio gone), foreign (another service), draft (a placeholder, not in the index)
    seconds: float
    model: str
    voice: str
    text: str


@dataclass
class Report:
    directory: Path
    items: list[Item] = field(default_factory=list)
    seconds: float = 0.0
    audio_bytes: int = 0
    problems: list[str] = field(default_factory=list)


def ours(entry: Entry) -> bool:
    data = entry.get("input_data")
    return isinstance(data, dict) and data.get("service") == SERVICE_NAME


def scan(directory: Path) -> Report:
    cache = NarrationCache(directory)
    report = Report(cache.directory)
    if not cache.directory.is_dir():
        report.problems.append("the directory does not exist yet (nothing cached)")
        return report
    if cache.index_path.exists() and not cache.entries():
        report.problems.append(f"{cache.index_path.name} is empty or unreadable")
    for entry in cache.entries():
        report.items.append(_item(cache, entry, report))
    drafts = placeholders(directory)
    report.items.extend(Item("draft", seconds, "-", "placeholder", text) for text, seconds, _ in drafts)
    return report


def placeholders(directory: Path) -> list[tuple[str, float, str]]:
    """Draft mode's placeholders in a cache folder: (text, seconds, key) each."""
    found = []
    for note in sorted((Path(directory) / DRAFTS).glob("*.json")):
        try:
            raw = json.loads(note.read_text(encoding="utf-8"))
            found.append((str(raw["text"]), float(raw["duration"]), str(raw["key"])))
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a stray or damaged note: its placeholder is only silence
    return found


def _item(cache: NarrationCache, entry: Entry, report: Report) -> Item:
    text = str(entry.get("input_text", ""))
    if not ours(entry):
        return Item("foreign", 0.0, "-", str((entry.get("input_data") or {}).get("service", "?")), text)
    config: dict[str, Any] = entry["input_data"].get("config") or {}
    voice = config.get("voice") or {}
    label = {
        "clone": f"clone {str(voice.get('ref_audio_sha256'))[:8]}",
        "preset": f"speaker {voice.get('speaker')}",
        "design": f"design {shorten(str(voice.get('instruct')), 12)}",
    }.get(str(voice.get("kind")), "?")
    model = str((config.get("model") or {}).get("model", "?"))
    audio = cache.audio_file(entry)
    if audio is None or not audio.is_file():
        report.problems.append(f"audio missing for {shorten(text, 40)!r}")
        return Item("missing", 0.0, model, label, text)
    seconds = float(entry.get("duration", 0.0))
    report.seconds += seconds
    report.audio_bytes += audio.stat().st_size
    return Item("ok", seconds, model, label, text)


def clear(directory: Path) -> list[Entry]:
    """Remove all our narration, the encoded voices kept beside it and draft placeholders; other services'
    entries stay."""
    import shutil

    from manim_qwen_mlx.core.defaults import VOICE_STORE_FOLDER

    cache = NarrationCache(directory)
    removed = cache.remove(ours)
    shutil.rmtree(cache.directory / VOICE_STORE_FOLDER, ignore_errors=True)
    shutil.rmtree(cache.directory / DRAFTS, ignore_errors=True)
    return removed


@dataclass(frozen=True)
class Pruned:
    removed: list[Entry]
    unrecorded: int  # kept: none of the files uses it, and it does not say which scenes asked for it
    elsewhere: int  # kept: the files asked for it and no longer use it, other scene files still do


def prune(
    directory: Path, files: set[str], used: Mapping[str, set[Owner]], all_unused: bool = False, dry_run: bool = False
) -> Pruned:
    """Remove our entries that the scene ``files`` (absolute) asked for and no longer use; ``used`` maps each
    key the files ask for now to the scenes asking. With ``all_unused``, every entry of ours none of them
    uses goes, other files' too. Entries still used record exactly their scenes among ``files``."""
    cache = NarrationCache(directory)
    kept = {"unrecorded": 0, "elsewhere": 0}

    def change(entry: Entry) -> Entry | None:
        if not ours(entry):
            return entry
        old = recorded(entry, cache.directory)
        others = {owner for owner in old or () if owner.file not in files}
        now = used.get(cache_key(entry["input_data"]))
        if now:
            return with_owners(entry, others | now, cache.directory)
        if all_unused:
            return None
        if old is None:
            kept["unrecorded"] += 1
            return entry
        if others:
            kept["elsewhere"] += len(others) < len(old)  # these files let go of it; others still use it
            return with_owners(entry, others, cache.directory)
        return None

    removed = [entry for entry in cache.entries() if change(entry) is None] if dry_run else cache.update(change)
    return Pruned(removed, kept["unrecorded"], kept["elsewhere"])
