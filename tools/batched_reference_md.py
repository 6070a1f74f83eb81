"""Batched NVT of many 272-atom cells with the published TorchScript model, in torch alone.

Made for a borrowed GPU with a short lease: the machine there has torch and
numpy but neither ase nor nequip, so the MD loop, the periodic neighbour list
and the thermostat are written here in torch, and every replica (e.g. the
crystal at seven volumes) is one graph of one batched model call.

Three sub-commands:

``prepare`` (here, with zifhelpers)
    Writes the replicas (positions, numbers, cells, labels) to an ``.npz`` and
    copies the published model file beside it.
``run`` (on the device; torch and numpy only)
    Velocity Verlet with the stochastic velocity-rescaling thermostat of
    G. Bussi, D. Donadio and M. Parrinello, J. Chem. Phys. 126, 014101 (2007),
    one thermostat per replica; hydrogens at ``--hydrogen-mass`` amu (static
    averages do not depend on the masses). Stops at ``--budget-s`` wall
    seconds or ``--steps``, whichever first, and rewrites its output ``.npz``
    every ``--save-every`` steps, so a killed run still leaves its data.
``analyse`` (here, with zifhelpers)
    Block-averaged pressures per replica and a second-order Birch-Murnaghan
    fit per system (:func:`zifhelpers.analysis.elastic.fit_birch_murnaghan2`).

Units: Å, eV, amu, fs, K; pressures in GPa.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

EV_PER_A3_TO_GPA = 160.21766208
KB_EV_PER_K = 8.617333262e-5
#: 1 eV/(Å amu) in Å/fs²
ACC = 9.64853321e-3
#: 1 amu Å²/fs² in eV
KE_UNIT = 103.642696
MASSES = {1: 1.008, 6: 12.011, 7: 14.007, 30: 65.38}
TYPE_NAMES = ("H", "C", "N", "Zn")  # the published model's type order
Z_OF = {"H": 1, "C": 6, "N": 7, "Zn": 30}


# ----------------------------------------------------------------- prepare
def prepare(args) -> None:
    from zifhelpers.data.public import load_structure, published_model_path

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    positions, cells, labels, numbers = [], [], [], None
    for name in args.structures:
        atoms = load_structure(name)
        for strain in args.strains:
            scaled = atoms.copy()
            scaled.set_cell(atoms.cell.array * (1.0 + strain) ** (1.0 / 3.0), scale_atoms=True)
            if numbers is None:
                numbers = scaled.numbers
            elif len(scaled) != len(numbers):
                raise ValueError(f"{name}: {len(scaled)} atoms, the others have {len(numbers)}")
            positions.append(scaled.positions)
            cells.append(scaled.cell.array)
            labels.append(f"{name} {strain:+.3f}")
    np.savez(out, positions=np.array(positions), cells=np.array(cells),
             numbers=np.asarray(numbers), labels=np.array(labels),
             strains=np.array([float(s) for s in args.strains] * len(args.structures)),
             systems=np.array([n for n in args.structures for _ in args.strains]))
    model = out.parent / published_model_path().name
    shutil.copyfile(published_model_path(), model)
    print(f"{len(labels)} replicas of {len(numbers)} atoms -> {out}; model -> {model}")


# --------------------------------------------------------------------- run
def neighbour_graph(torch, pos, cell, inv_cell, r_max: float, n_per: int):
    """Edges (i, j, integer shift S) with |r_j - r_i + S·cell| < r_max, per replica.

    Positions are wrapped into the cell and all 27 neighbouring images are
    tried, which is exact when every cell width exceeds ``r_max`` (checked).
    Returns the global ``edge_index`` (2, E) and ``edge_cell_shift`` (E, 3)
    in nequip 0.5's convention (vector = pos[j] - pos[i] + shift @ cell).
    """
    frac = torch.einsum("bni,bij->bnj", pos, inv_cell)
    frac = frac - torch.floor(frac)
    wrapped = torch.einsum("bni,bij->bnj", frac, cell)
    offset = pos - wrapped  # so that edges refer to the unwrapped positions
    rng = torch.tensor([-1.0, 0.0, 1.0], device=pos.device, dtype=pos.dtype)
    shifts = torch.cartesian_prod(rng, rng, rng)  # (27, 3)
    shift_vec = torch.einsum("si,bij->bsj", shifts, cell)  # (B, 27, 3)
    d = (wrapped[:, None, :, None, :] - wrapped[:, :, None, None, :]
         + shift_vec[:, None, None, :, :])  # (B, i, j, s, 3): r_j - r_i + S
    dist2 = (d * d).sum(-1)
    mask = dist2 < r_max * r_max
    zero = 13  # index of the (0, 0, 0) shift
    eye = torch.eye(n_per, dtype=torch.bool, device=pos.device)
    mask[:, :, :, zero] &= ~eye
    b, i, j, s = mask.nonzero(as_tuple=True)
    # undo the wrapping: r_j - r_i + S' with S' = S + (k_j - k_i) integer cells
    k = torch.round(torch.einsum("bni,bij->bnj", offset, inv_cell))
    shift = shifts[s] - k[b, j] + k[b, i]
    edge_index = torch.stack([b * n_per + i, b * n_per + j])
    return edge_index, shift


def run(args) -> None:
    import torch

    t_start = time.perf_counter()
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = torch.float32
    data = np.load(args.input)
    labels = [str(x) for x in data["labels"]]
    numbers = data["numbers"]
    n_rep, n_per = data["positions"].shape[:2]
    if args.replicas:
        keep = [k for k, lab in enumerate(labels) if lab.split()[0] in args.replicas]
        labels = [labels[k] for k in keep]
        pos0, cells0 = data["positions"][keep], data["cells"][keep]
        n_rep = len(keep)
    else:
        pos0, cells0 = data["positions"], data["cells"]
    widths = [1.0 / np.linalg.norm(np.linalg.inv(c).T, axis=1).max() for c in cells0]
    if min(widths) <= args.r_max:
        raise ValueError(f"a cell is {min(widths):.2f} Å wide, not more than r_max={args.r_max}")
    if device.type == "cuda":  # the edge count changes every step: no re-specialising
        torch.jit.set_fusion_strategy([("DYNAMIC", 2)])
    model = torch.jit.load(args.model, map_location=device)
    model.eval()
    model = model.to(dtype)
    type_index = {Z_OF[name]: k for k, name in enumerate(TYPE_NAMES)}
    types = torch.tensor([type_index[int(z)] for z in numbers] * n_rep, device=device)
    types = types.unsqueeze(-1)
    batch = torch.arange(n_rep, device=device).repeat_interleave(n_per)
    mass_np = np.array([MASSES[int(z)] for z in numbers])
    if args.hydrogen_mass:
        mass_np[numbers == 1] = args.hydrogen_mass
    mass = torch.tensor(mass_np, device=device, dtype=torch.float64)[None, :, None]
    pos = torch.tensor(pos0, device=device, dtype=torch.float64)
    cell = torch.tensor(cells0, device=device, dtype=torch.float64)
    inv_cell = torch.linalg.inv(cell)
    volume = torch.abs(torch.linalg.det(cell))  # (B,)
    gen = torch.Generator(device=device).manual_seed(args.seed)
    ndof = 3 * n_per - 3

    def maxwell(temperature):
        v = torch.randn(pos.shape, generator=gen, device=device, dtype=torch.float64)
        v = v * torch.sqrt(KB_EV_PER_K * temperature / (mass * KE_UNIT))
        p = (mass * v).sum(1, keepdim=True) / mass.sum(1, keepdim=True)
        return v - p  # no drift

    def kinetic(v):  # (B,) eV
        return 0.5 * KE_UNIT * (mass * v * v).sum((1, 2))

    def compute(p):
        edge_index, shift = neighbour_graph(torch, p.to(dtype), cell.to(dtype),
                                            inv_cell.to(dtype), args.r_max, n_per)
        out = model({
            "pos": p.reshape(-1, 3).to(dtype),
            "edge_index": edge_index,
            "edge_cell_shift": shift.to(dtype),
            "cell": cell.to(dtype),
            "atom_types": types,
            "batch": batch,
        })
        forces = out["forces"].detach().to(torch.float64).reshape(n_rep, n_per, 3)
        stress = out["stress"].detach().to(torch.float64).reshape(n_rep, 3, 3)
        energy = out["total_energy"].detach().to(torch.float64).reshape(n_rep)
        return forces, stress, energy, edge_index.shape[1]

    target = float(args.temperature)
    vel = maxwell(target)
    vel = vel * torch.sqrt(target / (2 * kinetic(vel) / (ndof * KB_EV_PER_K)))[:, None, None]
    if args.restart:  # go on from the last state of an earlier run of the same replicas
        prev = np.load(args.restart)
        prev_labels = [str(x) for x in prev["labels"]]
        rows = [prev_labels.index(lab) for lab in labels]  # ValueError names a missing one
        pos = torch.tensor(prev["final_positions"][rows], device=device, dtype=torch.float64)
        vel = torch.tensor(prev["final_velocities"][rows], device=device, dtype=torch.float64)
    forces, stress, energy, n_edges = compute(pos)
    dt = float(args.timestep)
    c = np.exp(-dt / args.tau)
    kbar = 0.5 * ndof * KB_EV_PER_K * target
    series = {k: [] for k in ("pressure_GPa", "temperature_K", "epot_eV", "ekin_eV")}
    frames, frame_steps, step_times = [], [], []
    out_path = Path(args.output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "labels": labels, "timestep_fs": dt, "temperature_K": target,
        "hydrogen_mass_amu": args.hydrogen_mass or 1.008, "thermostat": "bussi",
        "tau_fs": args.tau, "seed": args.seed, "model": Path(args.model).name,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "n_atoms_per_replica": int(n_per),
        "edges_first_step": int(n_edges), "restart": str(args.restart or ""),
    }

    def save(final: bool) -> None:
        meta.update(steps=len(series["pressure_GPa"]), wall_s=time.perf_counter() - t_start,
                    ms_per_step=float(1e3 * np.median(step_times)) if step_times else None,
                    finished=final)
        tmp = out_path.with_suffix(".tmp.npz")
        np.savez(tmp, **{k: np.array(v) for k, v in series.items()},
                 frames=np.array(frames, dtype=np.float32), frame_steps=np.array(frame_steps),
                 cells=cells0, numbers=numbers, labels=np.array(labels),
                 final_positions=pos.cpu().numpy(), final_velocities=vel.cpu().numpy(),
                 meta=json.dumps(meta))
        tmp.replace(out_path)

    print(json.dumps(meta), flush=True)
    step = 0
    while step < args.steps:
        t0 = time.perf_counter()
        vel = vel + 0.5 * dt * ACC * forces / mass
        pos = pos + dt * vel
        forces, stress, energy, n_edges = compute(pos)
        vel = vel + 0.5 * dt * ACC * forces / mass
        # Bussi et al. 2007: one stochastic rescaling per replica per step
        kin = kinetic(vel)
        r1 = torch.randn(n_rep, generator=gen, device=device, dtype=torch.float64)
        sgam = 2.0 * torch._standard_gamma(torch.full((n_rep,), (ndof - 1) / 2.0,
                                                      device=device, dtype=torch.float64))
        factor = kbar / (ndof * kin)
        alpha2 = c + (1 - c) * (sgam + r1 * r1) * factor + 2 * r1 * torch.sqrt(c * (1 - c) * factor)
        sign = torch.sign(r1 + torch.sqrt(c / ((1 - c) * factor)))
        vel = vel * (sign * torch.sqrt(alpha2))[:, None, None]
        kin = kinetic(vel)
        p_kin = 2.0 * kin / (3.0 * volume)
        p_pot = -torch.diagonal(stress, dim1=1, dim2=2).sum(-1) / 3.0
        series["pressure_GPa"].append(((p_kin + p_pot) * EV_PER_A3_TO_GPA).cpu().numpy())
        series["temperature_K"].append((2 * kin / (ndof * KB_EV_PER_K)).cpu().numpy())
        series["epot_eV"].append(energy.cpu().numpy())
        series["ekin_eV"].append(kin.cpu().numpy())
        step += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
        step_times.append(time.perf_counter() - t0)
        if step % args.frame_every == 0:
            frames.append(pos.cpu().numpy().astype(np.float32))
            frame_steps.append(step)
        if step % args.save_every == 0:
            save(False)
            p = np.array(series["pressure_GPa"][-args.save_every:]).mean(0)
            print(f"step {step} ({step * dt / 1000:.2f} ps) {1e3 * np.median(step_times):.1f} "
                  f"ms/step, wall {time.perf_counter() - t_start:.0f} s, mean P (GPa) "
                  + " ".join(f"{x:+.2f}" for x in p), flush=True)
        if time.perf_counter() - t_start > args.budget_s:
            break
    save(True)
    print(f"done: {step} steps, {step * dt / 1000:.2f} ps per replica", flush=True)


# ----------------------------------------------------------------- analyse
def analyse(args) -> None:
    from zifhelpers.analysis.elastic import block_average, fit_birch_murnaghan2

    # a replica's series: its columns in each input, in order (later inputs are
    # continuations made with --restart)
    series: dict[str, list[np.ndarray]] = {}
    temps: dict[str, list[np.ndarray]] = {}
    volumes: dict[str, float] = {}
    metas = []
    for path in args.input:
        data = np.load(path)
        meta = json.loads(str(data["meta"]))
        metas.append(meta)
        labels = [str(x) for x in data["labels"]]
        for k, label in enumerate(labels):
            series.setdefault(label, []).append(data["pressure_GPa"][:, k])
            temps.setdefault(label, []).append(data["temperature_K"][:, k])
            volumes[label] = float(abs(np.linalg.det(data["cells"][k])))
        numbers = data["numbers"]
    dt = metas[0]["timestep_fs"]
    if any(m["timestep_fs"] != dt for m in metas):
        raise ValueError(f"{args.input}: the inputs have different time steps")
    skip = int(round(args.equilibrate_ps * 1000 / dt))
    mass_amu = sum(MASSES[int(z)] for z in numbers)
    systems: dict[str, dict] = {}
    rows = []
    for label, parts in series.items():
        pressure = np.concatenate(parts)
        if skip >= len(pressure) - 100:
            raise ValueError(f"{label}: {len(pressure)} steps, too few after "
                             f"{args.equilibrate_ps} ps of equilibration")
        name, strain = label.split()
        mean, err = block_average(pressure[skip:], n_blocks=10)
        rows.append({"system": name, "strain": float(strain), "volume_A3": volumes[label],
                     "pressure_GPa": float(mean), "pressure_err_GPa": float(err),
                     "temperature_K": float(np.concatenate(temps[label])[skip:].mean()),
                     "production_ps": (len(pressure) - skip) * dt / 1000})
        s = systems.setdefault(name, {"V": [], "P": [], "dP": []})
        s["V"].append(volumes[label])
        s["P"].append(mean)
        s["dP"].append(err)
    fits = {}
    for name, s in systems.items():
        fit = fit_birch_murnaghan2(np.array(s["V"]), np.array(s["P"]), np.array(s["dP"]),
                                   mass_amu=mass_amu)
        fits[name] = {k: (float(v) if np.isscalar(v) else v) for k, v in fit.items()}
    result = {
        "method": "NVT P(V) at 300 K, second-order Birch-Murnaghan fit",
        "potential": "published NequIP model (reference), nequip 0.5.6 TorchScript file",
        "equilibrate_ps": args.equilibrate_ps,
        "runs": metas, "points": rows, "fits": fits,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    for name, fit in fits.items():
        print(name, {k: round(fit[k], 4) for k in fit if isinstance(fit[k], float)})


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--structures", nargs="+", default=["crystal"])
    p.add_argument("--strains", nargs="+", type=float,
                   default=[-0.045, -0.03, -0.015, 0.0, 0.015, 0.03, 0.045])
    p.add_argument("--out", default=".device/pv_input.npz")
    p = sub.add_parser("run")
    p.add_argument("--input", default=".device/pv_input.npz")
    p.add_argument("--model", default=".device/nequip_l2r6stress0.pth")
    p.add_argument("--output", required=True)
    p.add_argument("--replicas", nargs="*", help="only these systems (first word of a label)")
    p.add_argument("--temperature", type=float, default=300.0)
    p.add_argument("--timestep", type=float, default=2.0, help="fs")
    p.add_argument("--hydrogen-mass", type=float, default=4.0, help="amu (0: real)")
    p.add_argument("--tau", type=float, default=100.0, help="thermostat time constant, fs")
    p.add_argument("--r-max", type=float, default=6.0)
    p.add_argument("--steps", type=int, default=10**9)
    p.add_argument("--budget-s", type=float, default=420.0)
    p.add_argument("--save-every", type=int, default=200)
    p.add_argument("--frame-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device")
    p.add_argument("--restart", help="output .npz of an earlier run: start from its last state")
    p = sub.add_parser("analyse")
    p.add_argument("--input", required=True, nargs="+",
                   help="run outputs; later ones continue earlier ones (--restart)")
    p.add_argument("--output", required=True)
    p.add_argument("--equilibrate-ps", type=float, default=2.0)
    args = parser.parse_args(argv)
    {"prepare": prepare, "run": run, "analyse": analyse}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
