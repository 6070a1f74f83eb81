"""Distil the published model into a fast student: sample, label, fine-tune (docs/distillation.md).

Each step reads and writes under one work folder (``runs/distil`` by default) and is resumable:
a step whose output exists returns it. The teacher labels every frame; pass any ASE calculator as
``teacher`` (default: the published model, ``load_calculator("published")``).

- :func:`teacher_md`: NVT (Bussi) with the teacher itself, hydrogens at 4 amu and 2 fs, a labelled
  frame every ``every`` steps.
- :func:`held_out_set`: the teacher-MD frames of the held-out structures (:data:`HELD_OUT`), the
  students' test set.
- :func:`sample_liquids`: a student runs the liquid state points of
  :func:`~zifhelpers.training.active.state_points`; the teacher labels what it visits.
- :func:`sample_glasses`: a student holds the training glasses hot; the teacher labels.
- :func:`stretch`: frames with bonds pulled out, labelled (the cost of losing an H).
- :func:`training_sets` and :func:`train_student`: train/validation files recorded with their
  recipe, then a fine-tune or a training from scratch described by a :class:`StudentRecipe`.

Labels are the published model (converted), never DFT. The command line is
``python tools/distil_student.py`` (:func:`main`).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.datasets import check_recipe, frame_key, label, read_dataset, write_dataset
from ..data.datasets import oversample as repeat_points
from ..data.public import load_structure
from ..potentials.compile import compile_model
from ..potentials.repulsion import touches_wall
from ..simulation.md import MDRun, Schedule
from .active import TEACHER_NAME, teacher_run_frames, visited_frames
from .run import train
from .spec import TrainingSpec
from .surgery import add_core_repulsion, insert_residual_layer

__all__ = ["HELD_OUT", "StudentRecipe", "write_teacher_labels", "relabel", "teacher_md",
           "held_out_set", "sample_liquids", "sample_glasses", "stretch", "training_sets",
           "student_spec", "train_student", "main"]

ROOT = Path(__file__).resolve().parents[2]
#: Start structures whose teacher MD is the students' test set, never trained on.
HELD_OUT = ("glass09", "glass10")
#: Labelled sets shipped in ``data/reference`` that every student trains on.
BASE_SETS = ("static_structures", "teacher_md_glass01_1500K", "active_learning")


@dataclass(frozen=True)
class StudentRecipe:
    """How one student is trained (the ``train`` step).

    A student trained from scratch has the architecture given here (l = ``l_max``, r =
    ``r_max_A``, ``layers``, ``features``); a fine-tune (``init_from``) keeps its parent's.
    ``core_repulsion`` adds the switched ZBL wall (grafted onto the parent when fine-tuning);
    ``deepen_after`` (a fine-tune only) first inserts a zero-initialised residual layer after that
    layer of the parent. ``oversample`` repeats training frames whose state point contains a key;
    ``weights`` are the loss coefficients of per-atom energy, forces and stress.
    """

    features: int = 16
    layers: int = 3
    l_max: int = 1
    r_max_A: float = 5.0
    epochs: int = 20
    seed: int = 2025
    learning_rate: float = 0.005
    batch_size: int = 2
    init_from: str | None = None
    extra: tuple[str, ...] = ()
    core_repulsion: bool = False
    forces_loss: str = "mse"
    huber_delta_eV_A: float = 0.01
    deepen_after: int | None = None
    oversample: dict[str, int] = field(default_factory=dict)
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    n_val: int = 30
    split_seed: int = 7

    def __post_init__(self):
        problems = []
        for name in ("features", "layers", "epochs", "batch_size", "n_val"):
            if int(getattr(self, name)) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.l_max < 0:
            problems.append(f"l_max must be >= 0, got {self.l_max}")
        if not self.r_max_A > 0:
            problems.append(f"r_max_A must be > 0 Å, got {self.r_max_A}")
        if not self.learning_rate > 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if self.forces_loss not in ("mse", "huber"):
            problems.append(f"forces_loss must be 'mse' or 'huber', got {self.forces_loss!r}")
        if len(self.weights) != 3 or any(w < 0 for w in self.weights) or not any(self.weights):
            problems.append(f"weights (energy, forces, stress) must be >= 0 and not all zero, "
                            f"got {self.weights}")
        if any(int(k) < 1 for k in self.oversample.values()):
            problems.append(f"oversample factors must be whole numbers >= 1, got {self.oversample}")
        if self.deepen_after is not None and not self.init_from:
            problems.append("deepen_after needs init_from (the checkpoint to deepen)")
        if problems:
            raise ValueError("StudentRecipe: " + "; ".join(problems))


def _teacher(teacher):
    if teacher is not None:
        return teacher
    from ..potentials.registry import load_calculator

    return load_calculator("published")


def write_teacher_labels(frames, out: str | os.PathLike, teacher=None) -> Path:
    """Label ``frames`` with the teacher and write them to ``out`` (extxyz).

    The frames' ``labeller`` is the published model's name when ``teacher`` is None, else the
    teacher's class name. Written to a temporary file first and renamed, so an interrupted step
    leaves no half-written ``out`` for the resume check to trust.
    """
    out = Path(out)
    if not frames:
        raise ValueError(f"{out}: no frames to label")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.extxyz")
    labeller = TEACHER_NAME if teacher is None else type(teacher).__name__
    write_dataset(label(frames, _teacher(teacher), labeller, progress=False), tmp)
    tmp.replace(out)
    return out


def relabel(work: str | os.PathLike, active_learning_dir: str | os.PathLike,
            shipped: str | os.PathLike, teacher=None) -> Path:
    """Label every frame the active-learning students visited, minus those already labelled."""
    out = Path(work) / "visited_labels.extxyz"
    if out.is_file():
        return out
    frames = visited_frames(active_learning_dir, exclude=read_dataset(shipped))
    return write_teacher_labels(frames, out, teacher)


def teacher_md(work: str | os.PathLike, name: str, temperature_K: float, ps: float,
               seed: int = 31, every: int = 25, calculator="published") -> Path:
    """NVT of the teacher from structure ``name``: H at 4 amu, 2 fs, a labelled frame every ``every``."""
    if not (temperature_K > 0 and ps > 0 and every >= 1):
        raise ValueError(f"teacher_md: need temperature_K > 0, ps > 0 and every >= 1, got "
                         f"{temperature_K}, {ps}, {every}")
    workdir = Path(work) / "teacher_md" / f"{name}_{temperature_K:.0f}K"
    if (workdir / "run.json").is_file():
        run = MDRun.from_workdir(workdir)
    else:
        run = MDRun(workdir, load_structure(name),
                    Schedule(2.0).plateau("hold", temperature_K, ps), calculator=calculator,
                    ensemble="nvt-bussi", frame_every=every, seed=seed, integrity_every=100,
                    integrity_confirm_fs=50.0, write_labels=True, hydrogen_mass_amu=4.0)
    run.run(progress=True)
    return workdir


def held_out_set(work: str | os.PathLike, out: str | os.PathLike, skip_ps: float = 0.2) -> Path:
    """The teacher-MD frames from :data:`HELD_OUT` (after ``skip_ps``): the students' test set."""
    frames = teacher_run_frames(Path(work) / "teacher_md", HELD_OUT, use="test", skip_ps=skip_ps)
    if not frames:
        raise FileNotFoundError(f"no teacher MD of {HELD_OUT} under {Path(work) / 'teacher_md'}")
    write_dataset(frames, out)
    return Path(out)


def sample_liquids(work: str | os.PathLike, tag: str, model: str, hold_ps: float = 1.0,
                   every: int = 10, seed: int = 4242, teacher=None) -> Path:
    """A student runs the eight liquid state points from glass01..08; the teacher labels the holds."""
    from ..potentials.registry import load_calculator
    from .active import SamplingSettings, sample_state_point, state_points

    out = Path(work) / f"sampled_{tag}_labels.extxyz"
    if out.is_file():
        return out
    settings = SamplingSettings(heat_ps=0.25, deform_ps=0.25, hold_ps=hold_ps, timestep_fs=2.0,
                                frame_every=every, integrity_every=5 * every,
                                hydrogen_mass_amu=4.0, integrity_confirm_fs=50.0)
    student = load_calculator(model)
    volume_ref = load_structure("crystal").get_volume()
    frames = []
    for i, point in enumerate(state_points(crystal=False)):
        res = sample_state_point(point, load_structure(f"glass{i + 1:02d}"), model,
                                 Path(work) / f"sample_{tag}" / point.name, settings,
                                 seed=seed + i, calc=student, volume_ref_A3=volume_ref)
        print(f"{point.name}: {len(res['frames'])} frames, stable={res['stable']} "
              f"{res['reason'][:120]}")
        for f in res["frames"]:
            f.info["sampler"] += f" (H 4 amu, 2 fs; {tag})"
        frames += res["frames"]
    return write_teacher_labels(frames, out, teacher)


def sample_glasses(work: str | os.PathLike, tag: str, model: str,
                   temperatures_K: tuple[float, ...] = (300.0, 900.0), hold_ps: float = 0.5,
                   every: int = 25, seed: int = 5151, skip_ps: float = 0.1,
                   teacher=None) -> Path:
    """A student holds each training glass at each temperature; the teacher labels after ``skip_ps``."""
    from ..potentials.registry import load_calculator
    from .active import SamplingSettings, StatePoint, sample_state_point

    out = Path(work) / f"glass_{tag}_labels.extxyz"
    if out.is_file():
        return out
    settings = SamplingSettings(hold_ps=hold_ps, timestep_fs=2.0, frame_every=every,
                                integrity_every=5 * every, hydrogen_mass_amu=4.0,
                                integrity_confirm_fs=50.0)
    student = load_calculator(model)
    starts = [f"glass{i:02d}" for i in range(1, 11) if f"glass{i:02d}" not in HELD_OUT]
    frames = []
    for k, temperature in enumerate(temperatures_K):
        for i, name in enumerate(starts):
            point = StatePoint(f"glass_{temperature:.0f}K_{name}", float(temperature), liquid=False)
            res = sample_state_point(point, load_structure(name), model,
                                     Path(work) / f"glass_{tag}" / point.name, settings,
                                     seed=seed + 100 * k + i, calc=student)
            kept = [f for f in res["frames"] if f.info["time_ps"] >= skip_ps - 1e-9]
            print(f"{point.name}: {len(kept)} frames, stable={res['stable']} {res['reason'][:120]}")
            for f in kept:
                f.info["sampler"] += f" (H 4 amu, 2 fs; {tag})"
            frames += kept
    return write_teacher_labels(frames, out, teacher)


def stretch(work: str | os.PathLike, tag: str, sources, per_source: int = 30, seed: int = 77,
            pair: tuple[str, str] = ("C", "H"), lengths_A: tuple[float, float] = (1.2, 1.9),
            teacher=None) -> Path:
    """``per_source`` frames of each labelled set with two ``pair`` bonds pulled to ``lengths_A``."""
    from ..data.datasets import stretched_bonds

    out = Path(work) / f"stretched_{tag}_labels.extxyz"
    if out.is_file():
        return out
    if per_source < 1 or not sources:
        raise ValueError(f"stretch: need sources and per_source >= 1, got {list(sources)} and "
                         f"{per_source}")
    rng = np.random.default_rng(seed)
    frames = []
    for source in sources:
        pool = read_dataset(source)
        picks = rng.choice(len(pool), size=min(per_source, len(pool)), replace=False)
        frames += [pool[int(k)] for k in sorted(picks)]
    # bonds picked near their equilibrium length (C–H about 1.1 Å, ring C–N/C–C about 1.4 Å)
    pick_below = 1.35 if "H" in pair else 1.6
    stretched = stretched_bonds(frames, pair, lengths_A, bonds_per_frame=2, seed=seed,
                                bond_cutoff_A=pick_below)
    return write_teacher_labels(stretched, out, teacher)


def training_sets(folder: str | os.PathLike, sources, recipe: StudentRecipe,
                  teacher_md_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """Train/validation files of one student in ``folder`` (written once, then reused).

    ``sources``: labelled sets (files) every student trains on, then ``recipe.extra``; the
    teacher MD of the training structures under ``teacher_md_dir`` joins when it exists. A
    frame given twice counts once; frames with a pair inside the core-repulsion wall are left
    out (labels made without the wall would teach the network to cancel it);
    ``recipe.n_val`` frames drawn with ``recipe.split_seed`` validate. The sources, factors,
    split size and seed are recorded in ``recipe.json`` beside the files; asked again with
    other ones, this refuses with the difference instead of training on the old set.
    """
    folder = Path(folder)
    train_file, val_file = folder / "train.extxyz", folder / "val.extxyz"
    record = {"extra": [str(e) for e in recipe.extra], "oversample": dict(recipe.oversample),
              "n_val": recipe.n_val, "seed": recipe.split_seed}
    recipe_file = folder / "recipe.json"
    if train_file.is_file() and val_file.is_file():
        if not recipe_file.is_file():
            raise FileExistsError(f"{folder}: train/val files without a recipe.json; move them "
                                  "away or write the recipe they were made with")
        check_recipe(recipe_file, record)  # refuses other sources or factors
        return train_file, val_file
    frames = [f for source in sources for f in read_dataset(source)]
    if teacher_md_dir is not None and Path(teacher_md_dir).is_dir():
        frames += teacher_run_frames(teacher_md_dir, HELD_OUT, use="train")
    frames += [f for e in recipe.extra for f in read_dataset(e)]
    seen, unique = set(), []
    for f in frames:
        key = frame_key(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    wall = touches_wall(unique) if unique else np.zeros(0, bool)
    frames = [f for f, w in zip(unique, wall, strict=True) if not w]
    if len(frames) <= recipe.n_val:
        raise ValueError(f"{folder}: {len(frames)} usable labelled frames, not more than the "
                         f"{recipe.n_val} validation frames asked for")
    print(f"{len(frames)} labelled frames ({int(wall.sum())} inside the wall left out): "
          f"{len(frames) - recipe.n_val} train, {recipe.n_val} validation")
    order = np.random.default_rng(recipe.split_seed).permutation(len(frames))
    train_frames = repeat_points([frames[i] for i in order[recipe.n_val:]], recipe.oversample)
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(train_frames, train_file)
    write_dataset([frames[i] for i in order[: recipe.n_val]], val_file)
    check_recipe(recipe_file, record)
    return train_file, val_file


def student_spec(recipe: StudentRecipe, train_file, val_file,
                 init_from: str | None = None) -> TrainingSpec:
    """The :class:`TrainingSpec` of a recipe (cosine schedule; ``init_from`` after grafts)."""
    return TrainingSpec(str(train_file), str(val_file), l_max=recipe.l_max, r_max=recipe.r_max_A,
                        num_layers=recipe.layers, num_features=recipe.features,
                        radial_mlp_width=32, batch_size=recipe.batch_size,
                        learning_rate=recipe.learning_rate, lr_schedule="cosine",
                        max_epochs=recipe.epochs, seed=recipe.seed,
                        init_from=init_from if init_from is not None else recipe.init_from,
                        core_repulsion=recipe.core_repulsion, forces_loss=recipe.forces_loss,
                        huber_delta_eV_A=recipe.huber_delta_eV_A,
                        energy_weight=recipe.weights[0], forces_weight=recipe.weights[1],
                        stress_weight=recipe.weights[2])


def train_student(work: str | os.PathLike, name: str, recipe: StudentRecipe,
                  sources=None, compile_for_cpu: bool = True) -> Path:
    """Train student ``name`` under ``<work>/student_<name>`` and compile it (fused, CPU).

    Returns the compiled ``model.nequip.pt2`` (or ``best.ckpt`` with ``compile_for_cpu=False``).
    """
    work = Path(work)
    if sources is None:
        sources = [ROOT / "data" / "reference" / f"{s}.extxyz.gz" for s in BASE_SETS]
        if (work / "visited_labels.extxyz").is_file():
            sources.append(work / "visited_labels.extxyz")
    workdir = work / f"student_{name}"
    train_file, val_file = training_sets(workdir, sources, recipe, work / "teacher_md")
    init_from = recipe.init_from
    if recipe.core_repulsion and init_from:  # graft the wall onto the parent, then fine-tune
        grafted = workdir / "parent_with_core_repulsion.ckpt"
        if not grafted.is_file():
            add_core_repulsion(init_from, grafted)
        init_from = str(grafted)
    if recipe.deepen_after is not None:  # zero-initialised residual layer: starts as the parent
        deepened = workdir / "parent_deepened.ckpt"
        if not deepened.is_file():
            insert_residual_layer(init_from, deepened, after_layer=recipe.deepen_after)
        init_from = str(deepened)
    spec = student_spec(recipe, train_file, val_file, init_from)
    best = train(spec, workdir)
    if not compile_for_cpu:
        return best
    model = workdir / "model.nequip.pt2"
    if not model.is_file():  # fused tensor products: same outputs, faster on a CPU
        compile_model(best, model, fused_tensor_product=True)
    return model


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="distil_student.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(ROOT / "runs" / "distil"),
                        help="work folder of every step (default runs/distil)")
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("relabel")
    md = sub.add_parser("teacher-md")
    md.add_argument("name")
    md.add_argument("temperature_K", type=float)
    md.add_argument("ps", type=float)
    md.add_argument("--seed", type=int, default=31)
    md.add_argument("--every", type=int, default=25, help="steps between labelled frames")
    sub.add_parser("held-out")
    sm = sub.add_parser("sample")
    sm.add_argument("tag")
    sm.add_argument("model")
    sm.add_argument("--hold-ps", type=float, default=1.0)
    sm.add_argument("--every", type=int, default=10)
    gl = sub.add_parser("glass")
    gl.add_argument("tag")
    gl.add_argument("model")
    gl.add_argument("--temperatures", type=float, nargs="+", default=[300.0, 900.0])
    gl.add_argument("--hold-ps", type=float, default=0.5)
    gl.add_argument("--every", type=int, default=25, help="steps between labelled frames")
    gl.add_argument("--seed", type=int, default=5151,
                    help="seed of the first run; run i at temperature k uses seed + 100 k + i")
    st = sub.add_parser("stretch")
    st.add_argument("tag")
    st.add_argument("sources", nargs="+", help="labelled sets whose frames are stretched")
    st.add_argument("--per-source", type=int, default=30)
    st.add_argument("--seed", type=int, default=77)
    st.add_argument("--pair", nargs=2, default=("C", "H"), metavar=("FIXED", "MOVED"),
                    help="bond to stretch; the second element's atom moves (default C H)")
    st.add_argument("--lengths", nargs=2, type=float, default=(1.2, 1.9), metavar=("LOW", "HIGH"),
                    help="stretched bond lengths in Å, drawn uniformly (default 1.2 1.9)")
    tr = sub.add_parser("train")
    tr.add_argument("name")
    tr.add_argument("--features", type=int, default=16)
    tr.add_argument("--epochs", type=int, default=20)
    tr.add_argument("--forces-loss", choices=("mse", "huber"), default="mse")
    tr.add_argument("--huber-delta", type=float, default=0.01, help="eV/Å; with --forces-loss huber")
    tr.add_argument("--layers", type=int, default=3,
                    help="interaction layers (from scratch; a fine-tune keeps the parent's)")
    tr.add_argument("--l-max", type=int, default=None,
                    help="largest rotation order of the features (from scratch; default 1)")
    tr.add_argument("--r-max", type=float, default=None,
                    help="cutoff radius in Å (from scratch; default 5)")
    tr.add_argument("--batch-size", type=int, default=2,
                    help="frames per step (2 on a CPU; larger on a GPU)")
    tr.add_argument("--deepen-after", type=int, default=None, metavar="K",
                    help="with --init-from: insert a zero-initialised residual layer after "
                         "layer K of the parent, then fine-tune")
    tr.add_argument("--seed", type=int, default=2025)
    tr.add_argument("--init-from", default=None, help="checkpoint to fine-tune")
    tr.add_argument("--extra", nargs="*", default=[], help="more labelled frames to train on")
    tr.add_argument("--lr", type=float, default=0.005)
    tr.add_argument("--oversample", action="append", default=[], metavar="KEY=K",
                    help="training frames whose state point contains KEY appear K times "
                         "(repeatable; e.g. glass_1500K=3)")
    tr.add_argument("--weights", nargs=3, type=float, default=(1.0, 1.0, 1.0),
                    metavar=("ENERGY", "FORCES", "STRESS"),
                    help="loss coefficients of per-atom energy, forces and stress (default 1 1 1)")
    tr.add_argument("--core-repulsion", action="store_true",
                    help="switched ZBL wall (zifhelpers.potentials.repulsion); grafted onto "
                         "--init-from")
    return parser


def recipe_from_args(args, parser: argparse.ArgumentParser) -> StudentRecipe:
    """The :class:`StudentRecipe` of parsed ``train`` arguments (argparse errors for bad ones)."""
    factors = {}
    for item in args.oversample:
        key, sep, factor = item.rpartition("=")
        if not sep or not key or not factor.isdigit():
            parser.error(f"--oversample expects KEY=K with K a whole number, got {item!r}")
        factors[key] = int(factor)
    if args.init_from and (args.l_max is not None or args.r_max is not None):
        parser.error("--l-max/--r-max set the architecture of a student trained from "
                     "scratch; a fine-tune (--init-from) keeps its parent's")
    try:
        return StudentRecipe(
            features=args.features, layers=args.layers,
            l_max=1 if args.l_max is None else args.l_max,
            r_max_A=5.0 if args.r_max is None else args.r_max, epochs=args.epochs,
            seed=args.seed, learning_rate=args.lr, batch_size=args.batch_size,
            init_from=args.init_from, extra=tuple(args.extra),
            core_repulsion=args.core_repulsion, forces_loss=args.forces_loss,
            huber_delta_eV_A=args.huber_delta, deepen_after=args.deepen_after,
            oversample=factors, weights=tuple(args.weights))
    except ValueError as err:
        parser.error(str(err))


def main(argv: list[str] | None = None) -> Path | None:
    """Command line of the distillation steps (``python tools/distil_student.py STEP ...``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.step == "train":
        recipe = recipe_from_args(args, parser)
        work.mkdir(parents=True, exist_ok=True)
        out = train_student(work, args.name, recipe)
    else:
        work.mkdir(parents=True, exist_ok=True)
        if args.step == "relabel":
            out = relabel(work, ROOT / "runs" / "active_learning",
                          ROOT / "data" / "reference" / "active_learning.extxyz.gz")
        elif args.step == "teacher-md":
            out = teacher_md(work, args.name, args.temperature_K, args.ps, args.seed, args.every)
        elif args.step == "held-out":
            out = held_out_set(work, ROOT / "data" / "heldout" / "teacher_md.extxyz.gz")
        elif args.step == "sample":
            out = sample_liquids(work, args.tag, args.model, args.hold_ps, args.every)
        elif args.step == "glass":
            out = sample_glasses(work, args.tag, args.model, tuple(args.temperatures),
                                 args.hold_ps, args.every, args.seed)
        else:
            out = stretch(work, args.tag, tuple(args.sources), args.per_source, args.seed,
                          tuple(args.pair), tuple(args.lengths))
    print(out)
    return out
