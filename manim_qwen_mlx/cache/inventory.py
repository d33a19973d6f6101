"""What the cache holds, for people: one line per entry, totals, problems; pruning."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from manim_qwen_mlx.cache import Entry, NarrationCache
from manim_qwen_mlx.cache.key import cache_key
from manim_qwen_mlx.core.defaults import SERVICE_NAME


@dataclass(frozen=True)
class Item:
    status: str  # ok, missing (audio gone), foreign (another service)
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
    return report


def _item(cache: NarrationCache, entry: Entry, report: Report) -> Item:
    text = str(entry.get("input_text", ""))
    if not ours(entry):
        return Item("foreign", 0.0, "-", str((entry.get("input_data") or {}).get("service", "?")), text)
    config: dict[str, Any] = entry["input_data"].get("config") or {}
    voice = config.get("voice") or {}
    label = {
        "clone": f"clone {str(voice.get('ref_audio_sha256'))[:8]}",
        "preset": f"speaker {voice.get('speaker')}",
        "design": f"design {str(voice.get('instruct'))[:12]}",
    }.get(str(voice.get("kind")), "?")
    model = str((config.get("model") or {}).get("model", "?"))
    audio = cache.audio_file(entry)
    if audio is None or not audio.is_file():
        report.problems.append(f"audio missing for {text[:40]!r}")
        return Item("missing", 0.0, model, label, text)
    seconds = float(entry.get("duration", 0.0))
    report.seconds += seconds
    report.audio_bytes += audio.stat().st_size
    return Item("ok", seconds, model, label, text)


def clear(directory: Path) -> list[Entry]:
    """Remove all our narration and the encoded voices kept beside it; other services' entries stay."""
    import shutil

    from manim_qwen_mlx.core.defaults import VOICE_STORE_FOLDER

    removed = prune_unused(directory, set())
    shutil.rmtree(NarrationCache(directory).directory / VOICE_STORE_FOLDER, ignore_errors=True)
    return removed


def prune_unused(directory: Path, used_keys: set[str], dry_run: bool = False) -> list[Entry]:
    """Remove our entries whose key is not in ``used_keys`` (all of ours when it is empty)."""
    cache = NarrationCache(directory)

    def unused(entry: Entry) -> bool:
        return ours(entry) and cache_key(entry["input_data"]) not in used_keys

    if dry_run:
        return [e for e in cache.entries() if unused(e)]
    return cache.remove(unused)
