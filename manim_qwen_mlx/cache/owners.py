"""Which scene file and scene asked for each entry, so that ``cache prune FILE`` removes only what FILE
owns. Stored in the entry as ``used_by``, each file relative to the cache folder (a project moved as a
whole keeps its owners); an entry without ``used_by`` was made before owners were recorded."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from manim_qwen_mlx.cache.key import cache_key
from manim_qwen_mlx.cache.store import Entry, NarrationCache
from manim_qwen_mlx.core.defaults import LOGGER_NAME
from manim_qwen_mlx.core.errors import CacheError

log = logging.getLogger(LOGGER_NAME)

USED_BY = "used_by"


@dataclass(frozen=True, order=True)
class Owner:
    """A scene that asked for a narration."""

    file: str  # the scene file, absolute
    scene: str  # the Scene subclass's name, as `manim render FILE SCENE` takes it


def recorded(entry: Entry, directory: Path) -> set[Owner] | None:
    """The owners ``entry`` records (None where it records none: made before owners were kept)."""
    raw = entry.get(USED_BY)
    if not isinstance(raw, list):
        return None
    found = set()
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("file"), str) and isinstance(item.get("scene"), str):
            found.add(Owner(os.path.normpath(directory / item["file"]), item["scene"]))
    return found


def with_owners(entry: Entry, owners: Iterable[Owner], directory: Path) -> Entry:
    """``entry`` recording exactly ``owners``."""
    stored = [{"file": _relative(owner.file, directory), "scene": owner.scene} for owner in sorted(set(owners))]
    return {**entry, USED_BY: stored}


def claim(cache: NarrationCache, wanted: Mapping[str, Iterable[Owner]]) -> bool:
    """Add owners to the entries (by key) that do not record them yet; writes only when one is new. False
    where the cache cannot be written: a record of use, never a reason to fail a render."""
    adding = {key: set(owners) for key, owners in wanted.items() if owners}
    if not adding:
        return True

    def change(entry: Entry) -> Entry:
        new = adding.get(str(entry.get("key") or cache_key(entry.get("input_data") or {})))
        if not new:
            return entry
        old = recorded(entry, cache.directory) or set()
        return entry if new <= old else with_owners(entry, old | new, cache.directory)

    try:
        cache.update(change)
    except (CacheError, OSError) as exc:
        log.debug("Could not record which scenes use entries of %s: %s", cache.directory, exc)
        return False
    return True


def owns(entry: Entry, owner: Owner, directory: Path) -> bool:
    return owner in (recorded(entry, directory) or set())


def _relative(file: str, directory: Path) -> str:
    try:
        return Path(os.path.relpath(file, directory)).as_posix()
    except ValueError:  # another drive (Windows): absolute it stays
        return Path(file).as_posix()
