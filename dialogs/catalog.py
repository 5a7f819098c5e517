"""The scripts a deployment knows: loaded from a folder, compiled once per script version."""

from __future__ import annotations

from pathlib import Path

from dialogs.compiler import compile_script
from dialogs.engine import VisitEngine
from dialogs.errors import ScriptError
from dialogs.loader import parse_script, read_script

__all__ = ["ScriptCatalog", "default_scripts_dir"]


def default_scripts_dir() -> Path:
    """The folder of shipped scripts (the ``scripts`` package)."""
    import scripts

    return Path(scripts.__file__).resolve().parent


class ScriptCatalog:
    """Every script of a folder, latest version by id, plus any pinned older version on demand."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or default_scripts_dir()
        self._engines: dict[tuple[str, int], VisitEngine] = {}
        self._latest: dict[str, tuple[int, str]] = {}
        for path in sorted(self.folder.glob("*.yaml")):
            script, text = read_script(path)
            known = self._latest.get(script.id)
            if known is not None and known[0] == script.version:
                raise ScriptError(f"script '{script.id}' version {script.version} is defined twice", source=str(path))
            self._engines[(script.id, script.version)] = VisitEngine(
                compile_script(script, text, source_name=str(path))
            )
            if known is None or script.version > known[0]:
                self._latest[script.id] = (script.version, text)

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

    def source(self, script_id: str, version: int) -> str:
        """The YAML text of a loaded script version (kept to pin visits to it)."""
        return self.get(script_id, version).compiled.source

    def get(self, script_id: str, version: int, *, pinned_source: str | None = None) -> VisitEngine:
        """A given version; compiled from ``pinned_source`` (stored with the visit) if not on disk."""
        engine = self._engines.get((script_id, version))
        if engine is not None:
            return engine
        if pinned_source is None:
            raise ScriptError(f"script '{script_id}' version {version} is not available")
        script = parse_script(pinned_source, source=f"{script_id} v{version} (pinned)")
        engine = VisitEngine(compile_script(script, pinned_source, source_name=f"{script_id} v{version}"))
        self._engines[(script_id, version)] = engine
        return engine
