"""In-memory record of one simulation run, as handed to the output layer.

All quantities are SI: m, s, mol, V, A, C, kg. Per-area quantities are per m^2 of
electrode (donor) area; multiply by ``RunRecord.area`` for totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LayerSpan:
    """Depth span of one layer [m] below the skin surface (the donor has negative depths)."""

    name: str
    top: float
    bottom: float


@dataclass
class Profile:
    """Depth profiles at one time [s].

    ``depth`` [m] is non-decreasing; an interface depth appears twice (value just
    above, value just below) because concentrations and potential jump there.
    """

    time: float
    depth: np.ndarray
    concentration: dict[str, np.ndarray]  # mol/m^3 of pore fluid
    tissue_concentration: dict[str, np.ndarray]  # mol/m^3 of tissue
    potential: np.ndarray  # V


@dataclass
class RunRecord:
    """Everything a run reports: time series, profiles and protocol facts (SI units).

    ``units`` holds the unit of every series key (and "time"), ``descriptions`` what each is and
    ``sign_conventions`` which way is positive (the series that have a sign), as the terms that
    record them declare it (physics/term.Series).
    """

    scenario_name: str
    drug: str
    species: list[str]
    charges: dict[str, int]
    molar_mass: dict[str, float]  # kg/mol
    area: float  # m^2
    layers: list[LayerSpan]  # donor first (name "donor"), then skin layers top to bottom
    times: np.ndarray  # s, accepted time levels including t=0
    series: dict[str, np.ndarray]
    profiles: list[Profile]
    protocol_end: float  # s
    units: dict[str, str] = field(default_factory=dict)  # series key -> unit
    descriptions: dict[str, str] = field(default_factory=dict)  # series key -> what it is
    sign_conventions: dict[str, str] = field(default_factory=dict)  # series key -> which way is positive
    current_on_intervals: list[tuple[float, float]] = field(default_factory=list)  # s
    applied_charge: float = 0.0  # C/m^2
    protocol: str = ""  # the protocol for people ("1.77 mA × 10 min, then 50 min passive")
    flux_discretization: str = ""  # the flux the numbers come from ("fitted" or "lumped")
    current_density_limit: float = 5.0  # A/m^2 (0.5 mA/cm^2, MYLES_OCULAR), from scenario.safety
    voltage_limit: float = 10.0  # V (MYLES_OCULAR), the device's compliance voltage
    stated_dose: float | None = None  # C, the dose the protocol is meant to give
    skin_pH_range: tuple[float, float] = (4.0, 10.5)  # the safe range at the skin surface (MURAHATA1988)
    return_record: RunRecord | None = None  # the column under the return electrode, when modelled
    passive_record: RunRecord | None = None  # the same experiment without current (setup.passive_control)
    weak_electrolytes: list[str] = field(default_factory=list)  # species transported with a partner form
    warnings: list[str] = field(default_factory=list)  # things a reader of the results must know
    #: 2D/3D patches only (simulation._patch_facts): kind, peak_local_current_density [A/m^2] with
    #: peak_time [s] and peak_position [m, lateral], anode_area and return_area [m^2 per model
    #: depth: m in planar, m^2 otherwise], appendage_current_fraction and appendage_drug_fraction
    patch: dict | None = None
    #: how the run was solved: linear_solver (the one "auto" chose), unknowns, ranks, time_steps
    #: (accepted), rejected_steps, newton_iterations and krylov_iterations (totals; a resumed run
    #: counts its resumed part only)
    solver: dict = field(default_factory=dict)

    @property
    def skin_layers(self) -> list[LayerSpan]:
        """Layers below the skin surface (everything but the donor)."""
        return [layer for layer in self.layers if layer.name != "donor"]
