"""Run profiles shared by every notebook.

``smoke``
    CI: seconds to a few minutes on 2 CPU cores; exercises every code path on
    tiny runs. Numbers are not converged.
``quick``
    A laptop: under an hour per notebook on a CPU. Shorter runs and single
    cells; each notebook states what that changes.
``cpu``
    The reproduction campaign on a 2-core CPU (hours per notebook): the
    paper's protocols scaled to what such a machine finishes, sampled with the
    shipped CPU student (``nequip-w32m``, hydrogens at 4 amu, 2 fs steps) and
    measured with the reference. Notebooks without ``cpu`` settings of their
    own use their ``quick`` ones (:data:`CPU_FALLS_BACK_TO_QUICK`).
``paper``
    The paper's exact protocol (100 ps, 2×2×2 supercells): meant for a GPU.
"""

from __future__ import annotations

PROFILES = ("smoke", "quick", "cpu", "paper")

__all__ = ["PROFILES", "CPU_FALLS_BACK_TO_QUICK", "CPU_COST_HOURS", "check_profile", "per_system", "select",
           "settings"]

#: Wall hours of each notebook under ``cpu`` on 2 cores of an AMD EPYC with AVX-512,
#: from the campaign's own runs (student MD: 17-20 steps/s on 272 atoms; the reference:
#: about 0.4 s a call). On an AVX2-only CPU, expect about twice as long. 05: two processes
#: of one thread on an Intel Xeon with AVX-512 give a P(V) volume (12 ps and 20 reference
#: frames) in about 10 min each, and the profile has about 100 such runs, plus one P(V) path
#: (7 volumes of 13-18 ps, about 2 h of one core). 03: the reference's
#: own MD (10 000 + 12 500 steps) runs at 1.2-1.4 s a step on one thread of the same Xeon,
#: about 8 core-hours: 4.5 h with its two systems in two processes (``-p systems=...``).
#: 04, one seed: 1.3 h for the melt-quench and its 300 K run (measured), plus the umbrella
#: windows (about 25 min) and the 40 ps barrier extension (about 40 min on one thread).
CPU_COST_HOURS = {"00_data_and_models": 0.2, "01_sampling": 0.3, "02_training": 1.0,
                  "03_validation": 4.5, "04_melt_quench": 2.4, "05_mechanics": 10.0,
                  "06_allegro_scaling": 1.0}

#: Notebooks whose ``cpu`` profile is their ``quick`` one (nothing to scale up
#: on a CPU, or not yet given campaign settings).
CPU_FALLS_BACK_TO_QUICK = ("00_data_and_models", "01_sampling", "02_training",
                           "06_allegro_scaling")

#: Table 1's screen as the paper designed it: l, r and parity screened on the
#: random training set (notebook 01's ``random_train``), then one flat-histogram
#: row with the same hyper-parameters, and Allegro on the flat-histogram set
#: (the paper's production data). Row names are the paper's (``zifhelpers.data.paper.TABLE1``).
_RANDOM = {"train_file": "random_train.extxyz"}
_TABLE1_SCREEN: dict[str, dict] = {
    "l=1, r=6": {"l_max": 1, "r_max": 6.0, "parity": True, **_RANDOM},
    "l=2, r=4": {"l_max": 2, "r_max": 4.0, "parity": True, **_RANDOM},
    "l=2, r=5": {"l_max": 2, "r_max": 5.0, "parity": True, **_RANDOM},
    "l=2, r=6, no parity": {"l_max": 2, "r_max": 6.0, "parity": False, **_RANDOM},
    "l=2, r=6": {"l_max": 2, "r_max": 6.0, "parity": True, **_RANDOM},
    "l=2, r=6, flat histogram": {"l_max": 2, "r_max": 6.0, "parity": True},
    "Allegro deployed": {"model": "allegro", "l_max": 2, "r_max": 6.0},
}

#: Per-notebook settings for each profile. Notebooks read theirs with
#: :func:`settings`; a papermill sweep can still override any parameter.
_SETTINGS: dict[str, dict[str, dict]] = {
    "00_data_and_models": {
        "smoke": {"structures": "zif4", "include_rmc": False, "single_point_max_atoms": 2176},
        "quick": {"structures": "zif4", "include_rmc": True, "single_point_max_atoms": 2176},
        "paper": {"structures": "zif4", "include_rmc": True, "single_point_max_atoms": None},
    },
    "01_sampling": {
        "smoke": {"n_train": 20, "n_test": 8},
        "quick": {"n_train": 40, "n_test": 10},
        "paper": {"n_train": 2500, "n_test": 200},
    },
    "02_training": {
        "smoke": {"model": {"l_max": 1, "r_max": 4.0, "num_layers": 2, "num_features": 8,
                            "radial_mlp_width": 16, "max_epochs": 3, "batch_size": 4},
                  "screen": {}},
        "quick": {"model": {"l_max": 1, "r_max": 5.0, "num_layers": 3, "num_features": 16,
                            "radial_mlp_width": 32, "max_epochs": 40, "batch_size": 2},
                  "screen": {
                      name: {"num_features": 8, "max_epochs": 10, **over}
                      for name, over in _TABLE1_SCREEN.items()}},
        "paper": {"model": {"l_max": 2, "r_max": 6.0, "num_layers": 5, "num_features": 32,
                            "parity": False, "radial_mlp_width": 64, "max_epochs": 1000,
                            "batch_size": 5},
                  "screen": {**_TABLE1_SCREEN,
                             "Allegro deployed": {**_TABLE1_SCREEN["Allegro deployed"],
                                                  "num_layers": 2, "num_features": 64}}},
    },
    "03_validation": {
        "smoke": {
            # the cpu campaign's systems and masses, a few steps each
            "md": {"timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
            "systems": ["crystal_300K", "liquid_1500K"],
            "liquid_start": "glass01", "melt_ps": 0.004, "production_ps": 0.008,
            "frame_every": 2, "ring_every": 2, "pore_every": 2, "xray_r_max": 12.0,
        },
        "quick": {
            "systems": ["crystal_300K", "liquid_1500K", "glass01_300K", "glass02_300K"],
            "liquid_start": "glass01", "melt_ps": 0.05, "production_ps": 0.1,
            "frame_every": 20, "ring_every": 2, "pore_every": 2, "xray_r_max": 20.0,
        },
        "cpu": {
            # Fig. 4 with the student as the model under test: both potentials sample with H at
            # 4 amu and 2 fs (benchmarks/validate_timestep.py), 20 ps each; the reference's own
            # MD is most of the cost (about 8 core-hours: CPU_COST_HOURS)
            "md": {"timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
            "systems": ["crystal_300K", "liquid_1500K"],
            "liquid_start": "glass01", "melt_ps": 5.0, "production_ps": 20.0,
            "frame_every": 50, "ring_every": 10, "pore_every": 20, "xray_r_max": 20.0,
            # the student's liquid broke a linker at 3.7 ps: as in notebook 04, a confirmed break
            # sends a run back to its last checkpoint with new velocities, counted as a restart
            "restarts_on_break": 3,
        },
        "paper": {
            "systems": ["crystal_300K", "liquid_1500K"] + [f"glass{i:02d}_300K" for i in range(1, 11)],
            "liquid_start": "crystal", "melt_ps": 20.0, "production_ps": 100.0,
            "frame_every": 200, "ring_every": 10, "pore_every": 100, "xray_r_max": 20.0,
        },
    },
    "04_melt_quench": {
        "smoke": {
            # the cpu campaign's code path in a few steps: the student samples (H 4 amu, 2 fs),
            # the reference checks the glass's frames and corrects the umbrella windows
            "protocol": {"supercell": (1, 1, 1), "rate_K_per_ps": 100000.0, "prepare_ps": 0.008,
                         "plateau_ps": 0.008, "equilibrate_ps": 0.016, "timestep_fs": 2.0,
                         "hot_timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
            "potential": "nequip-w32m",
            "frame_every": 2, "integrity_every": 4, "ring_every": 1, "pore_every": 2,
            "restarts_on_break": 3,
            "glass_300K": {"production_ps": 0.016, "frame_every": 2, "reference_frames": 2},
            # two windows in the first well: every code path, no barrier
            "umbrella": {"n_bonds": 1, "centers_A": [2.0, 2.1], "spring_eV_A2": 5.0,
                         "bins_A": [1.8, 2.4, 0.05], "equilibrate_ps": 0.004,
                         "production_ps": 0.024, "frame_every_fs": 2.0, "reference_frames": 1},
            # python -m zifhelpers glass-barrier: the glasses' 300 K runs continued
            "barrier_extension": {"production_ps": 0.008, "frame_every": 2},
        },
        "quick": {
            # a laptop hour: the cpu schedule's shape, shorter (1 ps at 300 K, 100 K/ps ramps,
            # 40 ps at 1500 K, 4 ps at 300 K; then 5 ps for the glass's structure), the student
            # alone (H 4 amu, 2 fs): 3.7e4 MD steps. In the cpu campaign the Zn RMSD reached
            # 2-3 A after 30-45 ps at 1500 K; the verdict says whether 40 ps melted this seed
            "protocol": {"supercell": (1, 1, 1), "rate_K_per_ps": 100.0, "prepare_ps": 1.0,
                         "plateau_ps": 40.0, "equilibrate_ps": 4.0, "timestep_fs": 2.0,
                         "hot_timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
            "potential": "nequip-w32m",
            "frame_every": 500, "integrity_every": 250, "ring_every": 2, "pore_every": 10,
            "restarts_on_break": 3,
            "glass_300K": {"production_ps": 5.0, "frame_every": 50, "reference_frames": 0},
        },
        "cpu": {
            # the paper's schedule shape on one cell: 50 ps at 1500 K as in the paper (a
            # 15 ps plateau left the cell crystalline), ramps at 50 K/ps instead of 20
            "protocol": {"supercell": (1, 1, 1), "rate_K_per_ps": 50.0, "prepare_ps": 2.0,
                         "plateau_ps": 50.0, "equilibrate_ps": 10.0, "timestep_fs": 2.0,
                         "hot_timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
            "potential": "nequip-w32m",
            "frame_every": 500, "integrity_every": 250, "ring_every": 5, "pore_every": 20,
            # the student opens a ring now and then at 1500 K (2 of 3 seeds in 50 ps; the
            # reference puts those frames 7-12 meV/atom higher): back to the last checkpoint
            # with new velocities, at most 3 times, each on record
            "restarts_on_break": 3,
            # 20 ps at 300 K, frames every 100 fs as the paper; the reference on 50 of them
            "glass_300K": {"production_ps": 20.0, "frame_every": 50, "reference_frames": 50},
            # plain MD at 300 K never reaches the Zn-N barrier's top (a lower bound only); an
            # intact bond held in windows bounds it from above: one bond of each glass, 17
            # windows from 1.9 to 3.5 A (k 5 eV/A^2, stiffer than the PMF's curvature at the
            # top), 0.5 + 3 ps each; the reference corrects the student's mean bond force on 5
            # frames a window. About 25 min a bond on 2 cores
            "umbrella": {"n_bonds": 1, "centers_A": [round(1.9 + 0.1 * k, 2) for k in range(17)],
                         "spring_eV_A2": 5.0, "bins_A": [1.85, 3.55, 0.05], "equilibrate_ps": 0.5,
                         "production_ps": 3.0, "frame_every_fs": 10.0, "reference_frames": 5},
            # python -m zifhelpers glass-barrier: each glass's 300 K run continued by 40 ps,
            # twice the 20 ps its seed's notebook sampled (and frames every 50 fs, not 100):
            # more Zn-N pair counts at the barrier's top; about 20 min a glass on one core
            "barrier_extension": {"production_ps": 40.0, "frame_every": 25},
        },
        "paper": {
            "protocol": {},
            "frame_every": 200, "integrity_every": 1000, "ring_every": 10, "pore_every": 100,
            "glass_300K": {"production_ps": 100.0, "frame_every": 200, "reference_frames": 50},
            "umbrella": {"n_bonds": 4, "centers_A": [round(1.9 + 0.1 * k, 2) for k in range(17)],
                         "spring_eV_A2": 5.0, "bins_A": [1.85, 3.55, 0.05], "equilibrate_ps": 1.0,
                         "production_ps": 10.0, "frame_every_fs": 10.0, "reference_frames": 10},
            "barrier_extension": {"production_ps": 100.0, "frame_every": 200},
        },
    },
    "05_mechanics": {
        "smoke": {
            # the cpu profile's code path in a few steps: the student samples, the reference
            # measures on 2 frames per run
            "potential": "nequip-w32m", "md": {"timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
            "systems": ["crystal"], "strains": [-0.03, 0.0, 0.03],
            "equilibrate_ps": 0.002, "production_ps": 0.008, "frame_every": 1, "reference_frames": 2,
            "fluct_equilibrate_ps": 0.002, "fluct_production_ps": 0.032,  # 16 frames: the error needs 14
            "zero_k_strains": [-0.04, -0.02, 0.0, 0.02, 0.04], "zero_k_relax": False, "zero_k_systems": ["crystal"],
            "fluct_systems": ["crystal"],
            "stress_strain": {"systems": {"crystal": 0.0}, "strain": 0.02,
                              "symmetry": {"crystal": "orthorhombic"}, "equilibrate_ps": 0.002,
                              "production_ps": 0.008, "frame_every": 1},
            "reference_md": {"systems": {"crystal": [0.0]}, "equilibrate_ps": 0.002,
                             "production_ps": 0.008, "frame_every": 1},
            "drift": {"systems": {"crystal": 0.0}, "equilibrate_ps": 0.002, "production_ps": 0.02},
            "path": {"systems": ["crystal"], "deform_ps": 0.004, "equilibrate_ps": 0.002,
                     "production_ps": 0.008},
        },
        "quick": {
            # a laptop hour: the student alone (H 4 amu, 2 fs; no reference, so nothing to
            # compile but the student), the crystal only, 2.7e4 MD steps; K with an error bar
            # from the stress-strain tensor and from P(V)
            "potential": "nequip-w32m", "md": {"timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
            "reference_frames": 0,
            "systems": ["crystal"], "strains": [-0.03, -0.015, 0.0, 0.015, 0.03],
            "equilibrate_ps": 0.5, "production_ps": 2.5, "frame_every": 25,
            "fluct_equilibrate_ps": 0.5, "fluct_production_ps": 2.5,
            "zero_k_strains": [-0.04, -0.02, 0.0, 0.02, 0.04], "zero_k_relax": True,
            "zero_k_systems": ["crystal"],
            "fluct_systems": ["crystal"],
            "stress_strain": {"systems": {"crystal": 0.045}, "strain": 0.02,
                              "symmetry": {"crystal": "orthorhombic"}, "equilibrate_ps": 0.5,
                              "production_ps": 2.5, "frame_every": 25},
        },
        "cpu": {
            # sampled by the student (H 4 amu, 2 fs), measured by the reference on 20
            # frames per volume, and the reference's own MD at one glass volume; about 10 h on 2 cores
            "potential": "nequip-w32m", "md": {"timestep_fs": 2.0, "hydrogen_mass_amu": 4.0},
            "systems": ["crystal", "glass01", "glass02", "glass03"],
            "strains": [-0.045, -0.03, -0.015, 0.0, 0.015, 0.03, 0.045],
            "equilibrate_ps": 2.0, "production_ps": 10.0, "frame_every": 50, "reference_frames": 20,
            "fluct_equilibrate_ps": 2.0, "fluct_production_ps": 20.0,
            "zero_k_strains": [-0.04, -0.02, 0.0, 0.02, 0.04], "zero_k_relax": True,
            # 0 K: the student relaxes, the reference measures (about 2 min a structure)
            "zero_k_systems": ["crystal"] + [f"glass{i:02d}" for i in range(1, 11)],
            # the paper's route to Table 3 for the crystal and one glass (about 40 min each)
            "fluct_systems": ["crystal", "glass01"],
            # the elastic tensor by +-2 % Voigt strains about the zero-pressure volume: the
            # crystal's from the reference's own P(V) (rho0 1.161 g/cm3 -> +4.2 %, nearest grid
            # volume +4.5 %; results/gpu/05_pv_reference_h200.json); 12 runs of 1 + 6 ps, three
            # times over (seeds 0-2; one seed gave errors of 20 % on E and G). glass01's at +4.5 %
            # too: there the reference reads 0.037 +- 0.011 GPa on the student's frames, and its
            # own MD at the file's volume reads 0.032 +- 0.026 GPa less than on the student's
            # frames (reference_md below), so about 0 GPa; one seed (a first Table 3 glass)
            "stress_strain": {"systems": {"crystal": 0.045, "glass01": 0.045}, "strain": 0.02,
                              "symmetry": {"crystal": "orthorhombic"}, "equilibrate_ps": 1.0,
                              "production_ps": 6.0, "frame_every": 25,
                              "seeds": {"crystal": [0, 1, 2], "glass01": [0]}},
            "mlp_glasses": "data/glasses/cpu_nequip-w32m_seed*.extxyz",
            # the reference's own MD at one glass volume (the file's), with the student's masses
            # and step: the sampling bias for the glasses, as the GPU run measured the crystal's
            "reference_md": {"systems": {"glass01": [0.0]}, "equilibrate_ps": 1.0,
                             "production_ps": 3.0, "frame_every": 25},
            # does a glass still relax after the 2 ps each volume gets? one volume for 50 ps
            # (the paper equilibrated 100 ps per volume); about 45 min of one core
            "drift": {"systems": {"glass01": 0.0}, "equilibrate_ps": 2.0, "production_ps": 50.0},
            # the paper's way of visiting the volumes, for one glass: each from its neighbour's last
            # frame, deformed over 5 ps (the paper: 1.5 % over 100 ps), then 3 + 10 ps; against
            # the independent volumes above, it says whether the protocol sets the glasses' K0
            # (about 2 h of one core)
            "path": {"systems": ["glass01"], "deform_ps": 5.0, "equilibrate_ps": 3.0,
                     "production_ps": 10.0},
        },
        "paper": {
            "systems": ["crystal"] + [f"glass{i:02d}" for i in range(1, 11)],
            "strains": [-0.045, -0.03, -0.015, 0.0, 0.015, 0.03, 0.045],
            "equilibrate_ps": 100.0, "production_ps": 100.0, "frame_every": 200,
            "path_deform_ps": 100.0,  # each volume from its neighbour, 1.5 % over 100 ps
            "fluct_equilibrate_ps": 100.0, "fluct_production_ps": 5000.0,
            "zero_k_strains": [-0.04, -0.02, 0.0, 0.02, 0.04], "zero_k_relax": True,
            "zero_k_systems": ["crystal"] + [f"glass{i:02d}" for i in range(1, 11)],
            "fluct_systems": ["crystal"] + [f"glass{i:02d}" for i in range(1, 11)],
            "stress_strain": {"systems": {"crystal": 0.045}, "strain": 0.02,
                              "symmetry": {"crystal": "orthorhombic"}, "equilibrate_ps": 10.0,
                              "production_ps": 100.0, "frame_every": 100},
        },
    },
    "06_allegro_scaling": {
        "smoke": {
            "scaling_repeats": {"published": [1]}, "rmc_models": [],
            "structure_systems": ["crystal_300K"], "structure_ps": 0.004, "structure_frame_every": 2,
            "accuracy_frames": 4, "robust_models": ["published"], "robust_temperatures": [1500.0],
            "robust_ps": 0.003, "robust_seeds": [0],
            "reaxff_protocol": {"supercell": (1, 1, 1), "rate_K_per_ps": 400000.0,
                                "prepare_ps": 0.002, "plateau_ps": 0.002, "equilibrate_ps": 0.004},
            "reaxff_frame_every": 8,
            "mq_protocol": {"supercell": (1, 1, 1), "t_max_K": 1400.0, "rate_K_per_ps": 400000.0,
                            "prepare_ps": 0.002, "plateau_ps": 0.002, "equilibrate_ps": 0.004},
            "mq_models": ["Allegro student"], "mq_frame_every": 2, "mq_integrity_every": 2,
        },
        "quick": {
            "scaling_repeats": {"published": [1, 2, 3], "published-legacy": [1, 2],
                                "NequIP student": [1, 2, 3, 4, 5],
                                "Allegro student": [1, 2, 3, 4, 5]},
            "rmc_models": ["published", "NequIP student", "Allegro student"],
            "structure_systems": ["crystal_300K", "glass01_300K"], "structure_ps": 0.1,
            "structure_frame_every": 20, "accuracy_frames": 90,
            "robust_models": ["NequIP student", "NequIP round 1", "Allegro student"],
            "robust_temperatures": [1000.0, 1300.0, 1500.0, 1800.0], "robust_ps": 2.0,
            "robust_seeds": [0],
            "reaxff_protocol": {"supercell": (1, 1, 1), "rate_K_per_ps": 6000.0,
                                "prepare_ps": 0.05, "plateau_ps": 0.1, "equilibrate_ps": 0.1},
            "reaxff_frame_every": 200,
            "mq_protocol": {"supercell": (1, 1, 1), "t_max_K": 1400.0, "rate_K_per_ps": 2000.0,
                            "prepare_ps": 0.1, "plateau_ps": 0.5, "equilibrate_ps": 0.25},
            "mq_models": ["NequIP student", "NequIP round 1", "Allegro student"],
            "mq_frame_every": 20, "mq_integrity_every": 20,
        },
        "paper": {
            "scaling_repeats": {name: [1, 2, 3, 4, 5] for name in (
                "published", "published-legacy", "NequIP student", "Allegro student")},
            "rmc_models": ["published", "published-legacy", "NequIP student", "Allegro student"],
            "structure_systems": ["crystal_300K"] + [f"glass{i:02d}_300K" for i in range(1, 11)],
            "structure_ps": 100.0, "structure_frame_every": 200, "accuracy_frames": 10000,
            "robust_models": ["NequIP student", "Allegro student"],
            "robust_temperatures": [1000.0, 1100.0, 1200.0, 1300.0, 1400.0, 1500.0, 1600.0,
                                    1800.0],
            "robust_ps": 100.0, "robust_seeds": [0, 1, 2],
            "reaxff_protocol": {"supercell": (2, 2, 2)},
            "reaxff_frame_every": 4000,
            "mq_protocol": {"t_max_K": 1400.0, "plateau_ps": 100.0},
            "mq_models": ["NequIP student", "Allegro student"],
            "mq_frame_every": 200, "mq_integrity_every": 1000,
        },
    },
}


def check_profile(profile: str) -> str:
    """Return ``profile`` if valid, else raise a ValueError listing the valid ones."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    return profile


def select(items: dict, subset: str = "") -> dict:
    """The entries of ``items`` named in ``subset`` (comma-separated, in that order); all for "".

    For a notebook parameter such as notebook 05's ``systems="crystal"``; an unknown name is an
    error listing the known ones.
    """
    if not subset:
        return dict(items)
    wanted = [name.strip() for name in subset.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in items]
    if unknown or not wanted:
        raise ValueError(f"{subset!r}: {unknown or 'no names'} not among this profile's {sorted(items)}")
    return {name: items[name] for name in wanted}


def per_system(setting, name: str):
    """A setting that is either one value for every system or a ``{system: value}`` dict.

    E.g. notebook 05's stress-strain ``seeds``: ``[0, 1, 2]`` for all, or
    ``{"crystal": [0, 1, 2], "glass01": [0]}``; a system the dict does not
    name gets None (the function's default).
    """
    return setting.get(name) if isinstance(setting, dict) else setting


def settings(notebook: str, profile: str) -> dict:
    """Settings of ``notebook`` (its file stem) under ``profile``."""
    check_profile(profile)
    if profile == "cpu" and notebook in CPU_FALLS_BACK_TO_QUICK:
        profile = "quick"
    try:
        return dict(_SETTINGS[notebook][profile])
    except KeyError:
        raise KeyError(
            f"no profile settings for notebook {notebook!r}; known: {sorted(_SETTINGS)}"
        ) from None
