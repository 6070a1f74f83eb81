"""Distil the published model into a fast CPU student, after the active-learning rounds.

    .venv/bin/python tools/distil_student.py relabel
    .venv/bin/python tools/distil_student.py teacher-md NAME TEMPERATURE_K PS [--seed S] [--every N]
    .venv/bin/python tools/distil_student.py held-out
    .venv/bin/python tools/distil_student.py sample TAG MODEL [--hold-ps P] [--every N]
    .venv/bin/python tools/distil_student.py glass TAG MODEL [--temperatures 300 900] [--hold-ps P]
    .venv/bin/python tools/distil_student.py stretch TAG SOURCES... [--per-source N] [--seed S]
        [--pair C N] [--lengths LOW HIGH]
    .venv/bin/python tools/distil_student.py train NAME [--features F] [--layers L] [--epochs E]
        [--seed S] [--init-from CKPT] [--extra FILES...] [--lr LR] [--core-repulsion]
        [--forces-loss mse|huber] [--huber-delta D] [--deepen-after K]

Steps (each resumable, all under runs/distil/):

- ``relabel``: every frame the students' MD visited in the rounds of
  ``tools/generate_reference_data.py`` (runs/active_learning), minus those the
  loop already labelled, labelled by the converted published model
  (:func:`zifhelpers.active.visited_frames`): ``visited_labels.extxyz``.
- ``teacher-md``: NVT (Bussi) with the published model itself from the ab initio
  structure NAME, hydrogens at 4 amu and a 2 fs step (configurations of the
  teacher's own ensemble; masses do not change NVT averages), a labelled frame
  every N steps (default 25, 50 fs), linker check every 100 steps confirmed
  50 fs later: ``teacher_md/NAME_<T>K/``. 1.6 s a step on 2 AVX2 cores
  (about 0.4 s where Inductor can use AVX-512).
- ``held-out``: the frames of the runs that start from :data:`HELD_OUT`
  (glass09, glass10; first 0.2 ps left out as equilibration), named
  ``liquid_<T>K_teacher_<NAME>`` above 1000 K and ``glass_<T>K_teacher_<NAME>``
  below: ``data/heldout/teacher_md.extxyz.gz``, the students' test set (no
  student trains on them; glass09 and glass10 are in the training set only as
  their single static frames). The runs from every other structure are
  training data.
- ``sample``: a student (MODEL, compiled) runs the eight liquid state points of
  :func:`zifhelpers.active.state_points` from glass01..glass08 (heat 0.25 ps,
  squeeze 0.25 ps, hold; hydrogens at 4 amu, 2 fs, breaks confirmed 50 fs later);
  the hold frames (all frames of a run that broke a linker) are labelled by
  the teacher: ``sampled_TAG_labels.extxyz``, added to the training set of
  later ``train`` runs.
- ``glass``: the student (MODEL, compiled) holds each training glass
  (glass01..glass08; never the held-out :data:`HELD_OUT`) at its own volume
  at each of ``--temperatures`` (default 300 and 900 K; Bussi, hydrogens at
  4 amu, 2 fs) and the teacher labels a frame every ``--every`` steps after
  the first 0.1 ps: ``glass_TAG_labels.extxyz``, named ``glass_<T>K_<NAME>``.
  The first rounds sampled only the crystal at 300 K and liquids at 1500 and
  1750 K, so the students had seen no disordered frame below 1500 K besides the
  ten static glasses.
- ``stretch``: N frames of each SOURCES file (labelled sets, e.g. teacher MD
  and sampled frames) with two C–H bonds each pulled out to 1.2–1.9 Å
  (:func:`zifhelpers.dataset.stretched_bonds`), labelled by the teacher:
  ``stretched_TAG_labels.extxyz``. They teach the cost of losing a hydrogen,
  which the students underestimate (their hot runs end with a free H).
  ``--pair C N --lengths 1.5 2.6`` pulls ring C–N bonds instead (the N moves),
  for a student whose rings open in the hot liquid.
- ``train``: a NequIP student (l = 1, r = 5 Å, L layers (default 3), F features,
  cosine learning rate; or fine-tuned from a checkpoint, whose architecture it keeps;
  ``--forces-loss huber`` fits forces with a Huber loss close to their MAE;
  ``--weights E F S`` sets the loss coefficients (default 1 1 1);
  ``--deepen-after K`` (with ``--init-from``) first inserts a zero-initialised
  residual layer after layer K of the parent (:mod:`zifhelpers.deepening`: the
  deeper model starts with the parent's predictions);
  ``--core-repulsion`` adds the
  switched ZBL wall of :mod:`zifhelpers.repulsion`, grafted onto the parent
  when fine-tuning) on the shipped reference
  frames, the teacher-MD frames of the training structures, the relabelled
  visited frames (if ``relabel`` ran) and any ``--extra`` sets, 30 of them
  drawn for validation: ``student_<NAME>/``, compiled for the CPU to
  ``model.nequip.pt2``.

Then ``benchmarks/bench_student.py`` measures its speed, held-out errors and hot
stability. Labels are the published model (converted), not DFT.

``runs/`` is not kept between machines: the labelled training frames of the
first distillation rounds are shipped in ``data/distil/`` (see its README) and
go back in with ``--extra``; a frame given twice counts once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "distil"
REF = ROOT / "data" / "reference"
#: Start structures whose teacher MD is the students' test set, never trained on.
HELD_OUT = ("glass09", "glass10")


def write_teacher_labels(frames, out: Path) -> Path:
    """Label ``frames`` with the published model (converted) and write them to ``out``.

    Written to a temporary file first and renamed, so an interrupted step
    leaves no half-written ``out`` for the resume check to trust.
    """
    from zifhelpers.active import TEACHER_NAME
    from zifhelpers.calculators import load_calculator
    from zifhelpers.dataset import label, write_dataset

    tmp = out.with_suffix(".tmp.extxyz")
    write_dataset(label(frames, load_calculator("published"), TEACHER_NAME), tmp)
    tmp.replace(out)
    return out


def relabel() -> Path:
    from zifhelpers.active import visited_frames
    from zifhelpers.dataset import read_dataset

    out = WORK / "visited_labels.extxyz"
    if out.is_file():
        return out
    frames = visited_frames(ROOT / "runs" / "active_learning",
                            exclude=read_dataset(REF / "active_learning.extxyz.gz"))
    print(f"{len(frames)} visited frames to label")
    return write_teacher_labels(frames, out)


def teacher_md(name: str, temperature_K: float, ps: float, seed: int, every: int = 25) -> Path:
    from zifhelpers.data import load_structure
    from zifhelpers.md import MDRun, Schedule

    workdir = WORK / "teacher_md" / f"{name}_{temperature_K:.0f}K"
    if (workdir / "run.json").is_file():
        run = MDRun.from_workdir(workdir)
    else:
        run = MDRun(workdir, load_structure(name),
                    Schedule(2.0).plateau("hold", temperature_K, ps), calculator="published",
                    ensemble="nvt-bussi", frame_every=every, seed=seed, integrity_every=100,
                    integrity_confirm_fs=50.0, write_labels=True, hydrogen_mass_amu=4.0)
    run.run(progress=True)
    return workdir


def held_out(skip_ps: float = 0.2) -> Path:
    from zifhelpers.active import teacher_run_frames
    from zifhelpers.dataset import write_dataset

    frames = teacher_run_frames(WORK / "teacher_md", HELD_OUT, use="test", skip_ps=skip_ps)
    out = ROOT / "data" / "heldout" / "teacher_md.extxyz.gz"
    write_dataset(frames, out)
    print(f"{len(frames)} frames -> {out}")
    return out


def sample(tag: str, model: str, hold_ps: float, every: int, seed: int = 4242) -> Path:
    from zifhelpers.active import (
        SamplingSettings,
        sample_state_point,
        state_points,
    )
    from zifhelpers.calculators import load_calculator
    from zifhelpers.data import load_structure

    out = WORK / f"sampled_{tag}_labels.extxyz"
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
                                 WORK / f"sample_{tag}" / point.name, settings, seed=seed + i,
                                 calc=student, volume_ref_A3=volume_ref)
        print(f"{point.name}: {len(res['frames'])} frames, stable={res['stable']} "
              f"{res['reason'][:120]}")
        for f in res["frames"]:
            f.info["sampler"] += f" (H 4 amu, 2 fs; {tag})"
        frames += res["frames"]
    return write_teacher_labels(frames, out)


def glass(tag: str, model: str, temperatures_K: tuple[float, ...], hold_ps: float, every: int,
          seed: int = 5151, skip_ps: float = 0.1) -> Path:
    from zifhelpers.active import (
        SamplingSettings,
        StatePoint,
        sample_state_point,
    )
    from zifhelpers.calculators import load_calculator
    from zifhelpers.data import load_structure

    out = WORK / f"glass_{tag}_labels.extxyz"
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
                                     WORK / f"glass_{tag}" / point.name, settings,
                                     seed=seed + 100 * k + i, calc=student)
            kept = [f for f in res["frames"] if f.info["time_ps"] >= skip_ps - 1e-9]
            print(f"{point.name}: {len(kept)} frames, stable={res['stable']} {res['reason'][:120]}")
            for f in kept:
                f.info["sampler"] += f" (H 4 amu, 2 fs; {tag})"
            frames += kept
    return write_teacher_labels(frames, out)


def stretch(tag: str, sources: tuple[str, ...], per_source: int, seed: int,
            pair: tuple[str, str] = ("C", "H"),
            lengths_A: tuple[float, float] = (1.2, 1.9)) -> Path:
    from zifhelpers.dataset import read_dataset, stretched_bonds

    out = WORK / f"stretched_{tag}_labels.extxyz"
    if out.is_file():
        return out
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
    return write_teacher_labels(stretched, out)


def training_sets(name: str, extra: tuple[str, ...] = (), n_val: int = 30,
                  seed: int = 7, oversample: dict[str, int] | None = None) -> tuple[Path, Path]:
    """Train/validation files of student NAME (written once, then reused).

    The sources, factors, split size and seed are recorded in ``recipe.json``
    beside the files; a later call with other ones stops with an error naming
    the difference instead of silently training on the old set.

    ``oversample`` repeats training frames of chosen state points
    (:func:`zifhelpers.dataset.oversample`); the validation frames appear once.
    """
    from zifhelpers.active import _positions_key, teacher_run_frames
    from zifhelpers.dataset import check_recipe, read_dataset, write_dataset
    from zifhelpers.dataset import oversample as repeat_points
    from zifhelpers.repulsion import touches_wall

    folder = WORK / f"student_{name}"
    train, val = folder / "train.extxyz", folder / "val.extxyz"
    recipe = {"extra": [str(e) for e in extra], "oversample": dict(oversample or {}),
              "n_val": n_val, "seed": seed}
    recipe_file = folder / "recipe.json"
    if train.is_file() and val.is_file():  # reuse, but never with other sources or factors
        if recipe_file.is_file():
            try:
                check_recipe(recipe_file, recipe)
            except ValueError as err:
                raise SystemExit(str(err)) from None
        else:
            print(f"{folder}: made before recipes were recorded; reusing its sets unchecked")
        return train, val
    frames = [f for ref in ("static_structures", "teacher_md_glass01_1500K", "active_learning")
              for f in read_dataset(REF / f"{ref}.extxyz.gz")]
    if (WORK / "teacher_md").is_dir():
        frames += teacher_run_frames(WORK / "teacher_md", HELD_OUT, use="train")
    if (WORK / "visited_labels.extxyz").is_file():
        frames += read_dataset(WORK / "visited_labels.extxyz")
    frames += [f for e in extra for f in read_dataset(e)]
    seen, unique = set(), []  # a frame given twice (run folder and shipped copy) counts once
    for f in frames:
        key = _positions_key(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    frames = unique
    wall = touches_wall(frames)  # labels made without the wall would teach the network to cancel it
    if wall.any():
        print(f"left out {int(wall.sum())} frames with a pair inside the core-repulsion wall")
        frames = [f for f, w in zip(frames, wall, strict=True) if not w]
    print(f"{len(frames)} labelled frames: {len(frames) - n_val} train, {n_val} validation")
    order = np.random.default_rng(seed).permutation(len(frames))
    train_frames = repeat_points([frames[i] for i in order[n_val:]], oversample or {})
    if oversample:
        print(f"oversampled {oversample}: {len(train_frames)} training frames with the repeats")
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(train_frames, train)
    write_dataset([frames[i] for i in order[:n_val]], val)
    check_recipe(recipe_file, recipe)
    return train, val


def train_student(name: str, features: int, epochs: int, seed: int,
                  init_from: str | None = None, extra: tuple[str, ...] = (),
                  learning_rate: float = 0.005, core_repulsion: bool = False,
                  layers: int = 3, forces_loss: str = "mse",
                  huber_delta: float = 0.01, deepen_after: int | None = None,
                  oversample: dict[str, int] | None = None,
                  weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
                  l_max: int = 1, r_max_A: float = 5.0, batch_size: int = 2) -> Path:
    from zifhelpers.training import TrainingSpec, add_core_repulsion, compile_model, train

    train_file, val_file = training_sets(name, extra, oversample=oversample)
    workdir = WORK / f"student_{name}"
    if core_repulsion and init_from:  # graft the wall onto the parent, then fine-tune that
        grafted = workdir / "parent_with_core_repulsion.ckpt"
        if not grafted.is_file():
            add_core_repulsion(init_from, grafted)
        init_from = str(grafted)
    if deepen_after is not None:  # one more layer, zero-initialised residual: starts as the parent
        from zifhelpers.deepening import insert_residual_layer

        if not init_from:
            raise SystemExit("--deepen-after needs --init-from (the checkpoint to deepen)")
        deepened = workdir / "parent_deepened.ckpt"
        if not deepened.is_file():
            insert_residual_layer(init_from, deepened, after_layer=deepen_after)
        init_from = str(deepened)
    spec = TrainingSpec(str(train_file), str(val_file), l_max=l_max, r_max=r_max_A,
                        num_layers=layers, num_features=features, radial_mlp_width=32,
                        batch_size=batch_size,
                        learning_rate=learning_rate, lr_schedule="cosine", max_epochs=epochs,
                        seed=seed, init_from=init_from, core_repulsion=core_repulsion,
                        forces_loss=forces_loss, huber_delta_eV_A=huber_delta,
                        energy_weight=weights[0], forces_weight=weights[1],
                        stress_weight=weights[2])
    workdir.mkdir(parents=True, exist_ok=True)
    best = train(spec, workdir)
    model = workdir / "model.nequip.pt2"
    if not model.is_file():  # fused tensor products: same outputs, faster on a CPU
        compile_model(best, model, fused_tensor_product=True)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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
    tr.add_argument("--huber-delta", type=float, default=0.01,
                    help="eV/Å; with --forces-loss huber")
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
                         "layer K of the parent (zifhelpers.deepening), then fine-tune")
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
                    help="switched ZBL wall (zifhelpers.repulsion); grafted onto --init-from")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    if args.step == "relabel":
        print(relabel())
    elif args.step == "sample":
        print(sample(args.tag, args.model, args.hold_ps, args.every))
    elif args.step == "glass":
        print(glass(args.tag, args.model, tuple(args.temperatures), args.hold_ps, args.every,
                    args.seed))
    elif args.step == "stretch":
        print(stretch(args.tag, tuple(args.sources), args.per_source, args.seed,
                      tuple(args.pair), tuple(args.lengths)))
    elif args.step == "held-out":
        held_out()
    elif args.step == "teacher-md":
        print(teacher_md(args.name, args.temperature_K, args.ps, args.seed, args.every))
    else:
        factors = {}
        for item in args.oversample:
            key, sep, factor = item.rpartition("=")
            if not sep or not key or not factor.isdigit():
                parser.error(f"--oversample expects KEY=K with K a whole number, got {item!r}")
            factors[key] = int(factor)
        if any(w < 0 for w in args.weights) or not any(args.weights):
            parser.error(f"--weights must be >= 0 and not all zero, got {args.weights}")
        if args.init_from and (args.l_max is not None or args.r_max is not None):
            parser.error("--l-max/--r-max set the architecture of a student trained from "
                         "scratch; a fine-tune (--init-from) keeps its parent's")
        l_max = 1 if args.l_max is None else args.l_max
        r_max = 5.0 if args.r_max is None else args.r_max
        if l_max < 0 or r_max <= 0 or args.batch_size < 1:
            parser.error(f"need --l-max >= 0, --r-max > 0 Å and --batch-size >= 1, got "
                         f"{l_max}, {r_max} and {args.batch_size}")
        print(train_student(args.name, args.features, args.epochs, args.seed,
                            args.init_from, tuple(args.extra), args.lr, args.core_repulsion,
                            args.layers, args.forces_loss, args.huber_delta, args.deepen_after,
                            factors, tuple(args.weights), l_max, r_max, args.batch_size))


if __name__ == "__main__":
    main()
