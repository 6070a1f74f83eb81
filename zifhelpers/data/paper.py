"""The paper's numbers, in one place, with their spread, unit, source and target.

N. Castel, D. André, C. Edwards, J. D. Evans and F.-X. Coudert, *Machine learning
interatomic potentials for amorphous zeolitic imidazolate frameworks*, Digital
Discovery 3, 355 (2024), doi:10.1039/D3DD00236E.

Every value was computed by the authors with their production NequIP model, the
model this compendium ships as its reference, so each is reproducible here. A
``spread`` is the ± the paper gives (a standard deviation over glass models), not
an error of the mean. A ``target`` is how close the reproduction campaign has to
come (``("abs", x)``: within x in the value's unit; ``("rel", f)``: within a
fraction f; ``("spread", None)``: inside value ± spread).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PaperValue", "VALUES", "value", "TABLE1"]


@dataclass(frozen=True)
class PaperValue:
    """One number of the paper."""

    key: str
    quantity: str
    value: float
    unit: str
    source: str
    spread: float | None = None
    target: tuple[str, float | None] | None = None

    def within_target(self, ours: float) -> bool | None:
        """Whether ``ours`` meets the target (None when there is none)."""
        if self.target is None:
            return None
        kind, tol = self.target
        if kind == "abs":
            return abs(ours - self.value) <= tol
        if kind == "rel":
            return abs(ours - self.value) <= tol * abs(self.value)
        if kind == "spread":
            return abs(ours - self.value) <= (self.spread or 0.0)
        raise ValueError(f"{self.key}: unknown target kind {kind!r}")

    def target_text(self) -> str:
        if self.target is None:
            return ""
        kind, tol = self.target
        if kind == "spread":
            return "inside ± spread"
        if kind == "rel":
            return f"± {100 * tol:g} %"
        return f"± {tol:g} {self.unit}".rstrip()


_ALL = [
    # Table 2: NVT P(V) at 300 K and a second-order Birch-Murnaghan fit
    PaperValue("K_crystal", "bulk modulus K0, crystal (P(V))", 1.69, "GPa", "Table 2",
               target=("rel", 0.25)),
    PaperValue("rho0_crystal", "density at zero pressure ρ0, crystal", 1.16, "g/cm³", "Table 2",
               target=("rel", 0.03)),
    PaperValue("K_abinitio_glasses", "bulk modulus K0, ab initio glasses (P(V))", 3.43, "GPa",
               "Table 2", spread=1.23, target=("spread", None)),
    PaperValue("rho0_abinitio_glasses", "ρ0, ab initio glasses", 1.25, "g/cm³", "Table 2",
               spread=0.06, target=("spread", None)),
    PaperValue("K_mlp_glasses", "bulk modulus K0, melt-quenched glasses (P(V))", 3.24, "GPa",
               "Table 2", spread=0.72, target=("spread", None)),
    PaperValue("rho0_mlp_glasses", "ρ0, melt-quenched glasses", 1.29, "g/cm³", "Table 2",
               spread=0.04, target=("spread", None)),
    # Table 3: strain fluctuations (NσT), Hill averages
    PaperValue("K_fluct_crystal", "bulk modulus K, crystal (elastic tensor)", 1.58, "GPa",
               "Table 3", target=("rel", 0.30)),
    PaperValue("E_crystal", "Young's modulus E, crystal", 2.49, "GPa", "Table 3",
               target=("rel", 0.30)),
    PaperValue("G_crystal", "shear modulus G, crystal", 1.01, "GPa", "Table 3",
               target=("rel", 0.30)),
    PaperValue("nu_crystal", "Poisson's ratio ν, crystal", 0.24, "", "Table 3",
               target=("abs", 0.06)),
    PaperValue("K_fluct_abinitio_glasses", "bulk modulus K, ab initio glasses (elastic tensor)",
               2.72, "GPa", "Table 3", spread=0.97, target=("spread", None)),
    PaperValue("E_abinitio_glasses", "Young's modulus E, ab initio glasses", 2.93, "GPa",
               "Table 3", spread=0.78, target=("spread", None)),
    PaperValue("G_abinitio_glasses", "shear modulus G, ab initio glasses", 1.12, "GPa",
               "Table 3", spread=0.29, target=("spread", None)),
    PaperValue("nu_abinitio_glasses", "Poisson's ratio ν, ab initio glasses", 0.31, "",
               "Table 3", spread=0.04, target=("spread", None)),
    # the melt-quenched glass (section "Generating aZIF-4 glass models", Figs 6-8)
    PaperValue("cn_mlp_glass", "Zn–N coordination, melt-quenched glass", 3.93, "",
               "text beside Fig. 8 (cutoff 2.5 Å)", target=("abs", 0.05)),
    PaperValue("cn_abinitio_glass", "Zn–N coordination, ab initio glasses", 3.93, "",
               "text beside Fig. 8 (\"the same value as the ab initio glass\")", target=("abs", 0.05)),
    PaperValue("pore_mlp_glass", "pore volume, melt-quenched glass", 61.0, "cm³/kg",
               "text beside Fig. 7 (Fig. S6)", target=("rel", 0.15)),
    PaperValue("pore_crystal", "pore volume, crystal", 54.0, "cm³/kg",
               "text beside Fig. 7 (Fig. S6)"),
    PaperValue("pore_abinitio_glasses", "pore volume, ab initio glasses", 68.0, "cm³/kg",
               "text beside Fig. 7 (Fig. S6)"),
    PaperValue("barrier_ZnN_mlp_glass", "first Zn–N free-energy barrier, melt-quenched glass",
               26.0, "kJ/mol", "text beside Fig. 6 (≈)", target=("abs", 5.0)),
]

#: key -> :class:`PaperValue`
VALUES: dict[str, PaperValue] = {v.key: v for v in _ALL}

#: Table 1: accuracy against held-out AIMD frames and V100 speed, per model.
TABLE1 = {
    "l=1, r=6": {"energy_mae_meV_atom": 0.70, "force_mae_meV_A": 20.5, "stress_mae_MPa": 352,
                 "us_per_atom_call": 240},
    "l=2, r=4": {"energy_mae_meV_atom": 0.90, "force_mae_meV_A": 20.7, "stress_mae_MPa": 304,
                 "us_per_atom_call": 371},
    "l=2, r=5": {"energy_mae_meV_atom": 0.70, "force_mae_meV_A": 16.3, "stress_mae_MPa": 320,
                 "us_per_atom_call": 369},
    "l=2, r=6, no parity": {"energy_mae_meV_atom": 0.60, "force_mae_meV_A": 16.4,
                            "stress_mae_MPa": 352, "us_per_atom_call": 280},
    "l=2, r=6": {"energy_mae_meV_atom": 0.58, "force_mae_meV_A": 15.2, "stress_mae_MPa": 361,
                 "us_per_atom_call": 452},
    "l=2, r=6, flat histogram": {"energy_mae_meV_atom": 0.61, "force_mae_meV_A": 17.8,
                                 "stress_mae_MPa": 360, "us_per_atom_call": 453},
    "NequIP deployed": {"energy_mae_meV_atom": 0.60, "force_mae_meV_A": 15.0,
                        "stress_mae_MPa": 352, "us_per_atom_call": 282},
    "Allegro deployed": {"energy_mae_meV_atom": 0.70, "force_mae_meV_A": 30.1,
                         "stress_mae_MPa": 352, "us_per_atom_call": 347},
}


def value(key: str) -> float:
    """The paper's value for ``key`` (see :data:`VALUES`)."""
    try:
        return VALUES[key].value
    except KeyError:
        raise KeyError(f"no paper value {key!r}; known: {sorted(VALUES)}") from None
