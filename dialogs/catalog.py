"""The scripts a deployment knows: loaded from a folder, compiled once per script version.

A file that does not load is reported (logged, and kept in :attr:`ScriptCatalog.errors`) and
skipped; the other scripts still serve. A visit runs on the exact text it was pinned to: when the
file on disk has the same id and version but other text, the pinned text is compiled instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dialogs.compiler import compile_script
from dialogs.engine import VisitEngine
from dialogs.errors import ScriptError
from dialogs.loader import content_hash, load_and_compile, parse_script

__all__ = ["ScriptCatalog", "default_scripts_dir"]

log = logging.getLogger(__name__)


def default_scripts_dir() -> Path:
    """The folder of shipped scripts (the ``scripts`` package)."""
    import scripts

    return Path(scripts.__file__).resolve().parent


class ScriptCatalog:
    """Every script of a folder, latest version by id, plus any pinned older version on demand."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_scripts_dir()
        self._engines: dict[tuple[str, int], VisitEngine] = {}
        self._pinned: dict[tuple[str, int, str], VisitEngine] = {}
        self._latest: dict[str, tuple[int, str]] = {}
        self._verified: set[tuple[str, int]] = set()
        self.errors: list[ScriptError] = []
        """The files that did not load (each skipped), in file order."""
        for path in sorted(self.folder.glob("*.yaml")):
            try:
                self._add(path)
            except ScriptError as exc:
                log.error("script skipped: %s", exc)
                self.errors.append(exc)

    def _add(self, path: Path) -> None:
        """Load one file into the catalog (a ScriptError leaves the catalog unchanged)."""
        compiled = load_and_compile(path)
        script = compiled.script
        known = self._latest.get(script.id)
        if known is not None and known[0] == script.version:
            raise ScriptError(f"script '{script.id}' version {script.version} is defined twice", source=str(path))
        self._engines[(script.id, script.version)] = VisitEngine(compiled)
        if known is None or script.version > known[0]:
            self._latest[script.id] = (script.version, compiled.source)

    @property
    def ids(self) -> list[str]:
        """The ids of every script, sorted."""
        return sorted(self._latest)

    def latest(self, script_id: str) -> VisitEngine:
        """The newest version of a script."""
        if script_id not in self._latest:
            raise ScriptError(f"no script with id '{script_id}' (known: {', '.join(self.ids)})")
        return self._engines[(script_id, self._latest[script_id][0])]

    def has(self, script_id: str, version: int) -> bool:
        """True when this version is compiled already (on disk or pinned earlier)."""
        return (script_id, version) in self._engines

    def needs_pin(self, script_id: str, version: int) -> bool:
        """True until this version's text was checked against the text pinned in the database."""
        return (script_id, version) not in self._verified

    def source(self, script_id: str, version: int) -> str:
        """The YAML text of a loaded script version (kept to pin visits to it)."""
        return self.get(script_id, version).compiled.source

    def get(self, script_id: str, version: int, *, pinned_source: str | None = None) -> VisitEngine:
        """A given version; compiled from ``pinned_source`` (stored with the visit) if not on disk.

        When the version on disk has other text than ``pinned_source``, the pinned text wins: a
        visit never changes under an edit that kept the version number.
        """
        engine = self._engines.get((script_id, version))
        if pinned_source is None or (engine is not None and engine.compiled.source == pinned_source):
            if engine is None:
                raise ScriptError(f"script '{script_id}' version {version} is not available")
            if pinned_source is not None:
                self._verified.add((script_id, version))
            return engine
        key = (script_id, version, content_hash(pinned_source))
        pinned = self._pinned.get(key)
        if pinned is None:
            name = f"{script_id} v{version} (pinned)"
            script = parse_script(pinned_source, source=name)
            pinned = VisitEngine(compile_script(script, pinned_source, source_name=name, strict=False))
            self._pinned[key] = pinned
            if engine is None:
                self._engines[(script_id, version)] = pinned
                self._verified.add((script_id, version))
        return pinned
