"""Execute the notebooks headless with papermill and gather their results.

``python -m zifhelpers run [NOTEBOOK ...] --profile smoke|quick|paper``

Executed copies go to an output folder (``runs/<profile>`` by default), never
over the committed notebooks; every notebook writes its results JSON into
``<output>/results`` and the runner merges them into ``<output>/results.json``.
A failing notebook is reported with its failing cell, and the others still run.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .profiles import check_profile

__all__ = ["NotebookOutcome", "notebook_dir", "find_notebooks", "run_notebooks"]


@dataclass
class NotebookOutcome:
    """What happened to one notebook."""

    notebook: str
    output: Path
    seconds: float
    ok: bool
    error: str = ""
    failing_cell: int | None = None
    failing_source: str = ""
    results: dict[str, Any] = field(default_factory=dict)


def notebook_dir() -> Path:
    """The repository's ``notebooks/`` folder (``$ZIFHELPERS_NOTEBOOKS`` overrides)."""
    env = os.environ.get("ZIFHELPERS_NOTEBOOKS")
    folder = Path(env) if env else Path(__file__).resolve().parents[2] / "notebooks"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"notebook folder {folder} not found: run from a clone of the "
            "compendium or set ZIFHELPERS_NOTEBOOKS"
        )
    return folder


def find_notebooks(names: list[str] | None = None, folder: Path | None = None) -> list[Path]:
    """Resolve notebook names (``"00"``, ``"00_data_and_models"`` or a path).

    With no names, every numbered notebook of ``folder``, in order.
    """
    folder = folder or notebook_dir()
    available = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return available
    found = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.is_file():
            found.append(path.resolve())
            continue
        matches = [p for p in available if p.stem == name or p.stem.split("_")[0] == name]
        if len(matches) != 1:
            raise ValueError(
                f"notebook {name!r} not found in {folder}; available: "
                f"{', '.join(p.stem for p in available)}"
            )
        found.append(matches[0])
    return found


def _failing_cell(nb_path: Path) -> tuple[int | None, str]:
    """Index and source of the first cell with an error output."""
    import nbformat

    try:
        nb = nbformat.read(nb_path, as_version=4)
    except Exception:  # the output notebook may not exist
        return None, ""
    for index, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return index, cell.source
    return None, ""


def run_notebooks(
    names: list[str] | None = None,
    profile: str = "smoke",
    output_dir: str | os.PathLike | None = None,
    figures_dir: str | os.PathLike | None = None,
    parameters: dict[str, Any] | None = None,
    progress: bool = True,
    kernel_name: str | None = None,
) -> list[NotebookOutcome]:
    """Execute notebooks with papermill.

    Parameters
    ----------
    names : list of str, optional
        Notebooks to run (default: all, in order).
    profile : {"smoke", "quick", "paper"}
    output_dir : path-like, optional
        Where executed notebooks and results go (default ``runs/<profile>``).
    figures_dir : path-like, optional
        Where notebooks save figures (default ``<output_dir>/figures``; pass the
        repository's ``figures/`` to refresh the committed figures).
    parameters : dict, optional
        Extra papermill parameters, passed to every notebook.
    """
    import papermill as pm

    check_profile(profile)
    own = {"profile": "--profile", "results_dir": "--output", "figures_dir": "--figures-dir"}
    clash = sorted(set(parameters or {}) & set(own))
    if clash:
        raise ValueError("the runner sets " + ", ".join(clash) + " itself: use "
                         + ", ".join(own[k] for k in clash) + " instead of -p")
    paths = find_notebooks(names)
    output = Path(output_dir or Path("runs") / profile).resolve()
    source_dirs = {p.parent.resolve() for p in paths}
    if output in source_dirs:
        raise ValueError(
            f"output folder {output} is the notebooks' own folder: executed "
            "copies would overwrite the committed notebooks"
        )
    results_dir = output / "results"
    # the kernels run inside notebooks/: a relative mirror path must not move
    mirror = os.environ.get("ZIFHELPERS_DATA_MIRROR")
    if mirror:
        os.environ["ZIFHELPERS_DATA_MIRROR"] = str(Path(mirror).expanduser().resolve())
    figures = Path(figures_dir).resolve() if figures_dir else output / "figures"
    output.mkdir(parents=True, exist_ok=True)
    if profile == "cpu":
        from .profiles import CPU_COST_HOURS

        costs = {p.stem: CPU_COST_HOURS.get(p.stem) for p in paths}
        known = [c for c in costs.values() if c is not None]
        print("estimated cost (hours, 2 cores with AVX-512; about twice on AVX2; finished MD "
              "is read back, not re-run): "
              + ", ".join(f"{k} {v:g}" if v is not None else f"{k} ?" for k, v in costs.items())
              + f"; {sum(known):g} in all", flush=True)
    outcomes = []
    for path in paths:
        out_nb = output / path.name
        params = {
            "profile": profile,
            "results_dir": str(results_dir),
            "figures_dir": str(figures),
            **(parameters or {}),
        }
        start = time.perf_counter()
        print(f"== {path.stem} [{profile}] -> {out_nb}", flush=True)
        try:
            pm.execute_notebook(
                str(path),
                str(out_nb),
                parameters=params,
                cwd=str(path.parent),
                progress_bar=progress,
                kernel_name=kernel_name,
            )
            outcome = NotebookOutcome(path.stem, out_nb, time.perf_counter() - start, True)
        except Exception as err:  # PapermillExecutionError and kernel deaths
            index, source = _failing_cell(out_nb)
            lines = str(err).strip().splitlines()
            outcome = NotebookOutcome(
                path.stem,
                out_nb,
                time.perf_counter() - start,
                False,
                error=next((ln for ln in reversed(lines) if ln.strip()), repr(err)),
                failing_cell=index,
                failing_source=source,
            )
        result_file = results_dir / f"{path.stem}.json"
        if outcome.ok and result_file.is_file():
            outcome.results = json.loads(result_file.read_text())
        outcomes.append(outcome)
        print(_describe(outcome), flush=True)
    _merge_results(output / "results.json", {o.notebook: o.results for o in outcomes if o.ok})
    return outcomes


def _merge_results(path: Path, new: dict) -> Path:
    """Add this run's notebooks to ``results.json``, keeping the other notebooks' entries.

    A file that is not a JSON object is set aside (``results.json.unreadable-<time>``), not
    overwritten.
    """
    merged = {}
    if path.is_file():
        try:
            merged = json.loads(path.read_text())
            if not isinstance(merged, dict):
                raise ValueError(f"a JSON {type(merged).__name__}, not an object")
        except ValueError as err:
            aside = path.with_name(f"{path.name}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(path, aside)
            warnings.warn(f"{path} could not be read ({err}); kept as {aside.name}", stacklevel=3)
            merged = {}
    merged.update(new)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(merged, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def _describe(outcome: NotebookOutcome) -> str:
    if outcome.ok:
        return f"   ok   {outcome.notebook} in {outcome.seconds:.0f} s"
    where = (
        f"cell {outcome.failing_cell}:\n"
        + "\n".join("      | " + ln for ln in outcome.failing_source.splitlines()[:15])
        if outcome.failing_cell is not None
        else "(no cell ran)"
    )
    return (
        f"   FAIL {outcome.notebook} after {outcome.seconds:.0f} s in {where}\n"
        f"      {outcome.error}\n      executed copy: {outcome.output}"
    )
