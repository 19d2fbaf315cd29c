"""A peer of iontosim: the same 1D/2D electroneutral Nernst-Planck problem solved with FiPy.

Written from the model's equations (docs/physics.md; not from iontosim's or FiPy's example code)
so that the comparison in compare.py measures two independent discretizations of one problem.
The parameters are taken from the same iontosim Scenario object (problem_from_scenario), so
both solve the same problem with the same numbers; compare.py checks them against iontosim's
own resolved layers.

The problem (every term of the default scenario, iontosim/scenarios/lidocaine_epinephrine.yaml):

    eps R_i (1 + rho_i) dc_i/dt + div J_i = - S_i                      (each species i)
    J_i = -D_i [ (1 + rho_i) grad c_i + (z_i + zp_i rho_i) c_i grad psi ] + (1 + rho_i) c_i v
    sum_i R_i (z_i + zp_i rho_i) c_i + X = 0                            (electroneutrality)

c_i [mol/m^3 of pore fluid] is the concentration of the ionized form of species i, rho_i the
ratio partner/ionized form at the layer's (buffered) pH (0 for strong electrolytes), zp_i the
partner's charge, R_i the retardation by binding, psi = F phi / (R T), eps the porosity, D_i the
effective diffusivity (D_aq times the layer's factor), X the fixed charge from the isoelectric
point (docs/physics.md, Fixed charge), v the electroosmotic superficial velocity (uniform across the
column, from the charged layers' drive, updated at the start of every time step as iontosim
does), S_i the capillary sink k_eff eps (1 + rho_i) c_i of the drugs with k_eff lowered by the
vasoconstrictor (Emax law) and the counter-ion leaving with the charge the drug carried.

Interfaces: the electrochemical potential of each ionized form, mu_i = ln(c_i / K_i) + z_i psi,
is continuous (partition K and Donnan jumps of c and psi), the total flux is continuous.
Electrode (top): Ag/AgCl anode, Cl- leaves at i/F, every other species blocked. Deep boundary:
interstitial fluid at psi = 0.

Discretization (finite volumes, FiPy): cell-centred unknowns c_i and psi, one coupled linear
system per iteration (FiPy coupled equations, SciPy's SuperLU). Each face flux is exponentially
fitted (Scharfetter-Gummel), J = (D_f/d) [B(x) c_P - B(-x) c_Q], B(x) = x/(exp(x) - 1), built from
FiPy's DiffusionTerm (coefficient D_f) plus ExponentialConvectionTerm (Patankar's exponential
scheme, which with it is exactly that flux). Within a layer the drift x is
(z_i + zp_i rho_i)/(1 + rho_i) times the drop of psi minus the electroosmotic Peclet number, and
D_f the harmonic mean of D_i (1 + rho_i). Across a layer interface x = z_i dpsi - d ln K_i is a
jump of c at the interface (exact Donnan/partition equilibrium at zero flux) between two half
cells of plain diffusion in series (_face_fluxes says why). The drift depends on psi, so each
iteration adds the exact derivative of every face flux with respect to psi as an implicit
DiffusionTerm in psi, minus the same term at the current iterate (an explicit source): at
convergence they cancel and the scheme is the fitted one; on the way they make the iteration
Newton's method (up to the lagged vasoconstriction). Time: backward Euler with iontosim's
step-size rule and parameters (numerics.dt_initial, dt_max, dt_growth), a step ending at every
change of current.

Not covered (refused with NotImplementedError): water (H+/OH-) and buffers, inert electrodes,
cathodal or pulsed or reversed protocols, return electrodes, appendages, Renkin pore hindrance.

    .venv/bin/python benchmarks/performance/fipy_peer.py [--refinement 2] [--dim 2] [--minutes 1]

(prints the delivered dose of the default scenario; FIPY_SOLVERS defaults to scipy here.)
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("FIPY_SOLVERS", "scipy")  # before fipy is imported: its default suite is chosen then
import fipy  # noqa: E402
from fipy.solvers.scipy import LinearLUSolver  # noqa: E402  (explicit: FiPy's PETSc LU fails here, see below)
from fipy.terms.implicitSourceTerm import ImplicitSourceTerm  # noqa: E402

from iontosim.physics.constants import FARADAY, GAS_CONSTANT  # noqa: E402 - the same SI constants
from iontosim.scenario.catalogue import SCENARIOS_DIR  # noqa: E402

LN10 = math.log(10.0)

CONFIG = SCENARIOS_DIR / "lidocaine_epinephrine.yaml"


# ---------------------------------------------------------------------------- the problem
@dataclass(frozen=True)
class Region:
    """The donor gel (index 0) or one skin layer, with every coefficient resolved (SI)."""

    name: str
    thickness: float  # m
    cells: int  # cells across it at refinement 1
    grading: float  # size of the deepest cell / size of the top cell
    porosity: float
    fixed_charge: float  # mol/m^3 of pore fluid, signed
    clearance_rate: float  # 1/s
    hydraulic: float  # kappa/mu, m^2/(Pa s); 0: no electroosmotic drive in this region
    diffusivity: tuple[float, ...]  # m^2/s, per species
    partition: tuple[float, ...]
    partner_ratio: tuple[float, ...]  # c(partner form)/c(ionized form) at the region's pH
    retardation: tuple[float, ...]


@dataclass
class PeerProblem:
    """What the FiPy peer solves, from an iontosim Scenario (problem_from_scenario)."""

    names: list[str]
    charge: np.ndarray  # charge number of each ionized form
    partner_charge: np.ndarray  # charge number of each partner form
    drug: int
    cleared: list[int]  # species removed by capillaries
    counter_ion: int | None  # leaves with the cleared charge
    vasoconstrictor: int | None
    max_effect: float
    ec50: float  # mol/m^3
    hill: float
    regions: list[Region]
    donor_fluid: np.ndarray  # mol/m^3, ionized forms
    body_fluid: np.ndarray  # mol/m^3, ionized forms
    chloride: int
    steps: list[tuple[float, float]]  # (duration s, current density A/m^2 anodic)
    temperature: float  # K
    dt_initial: float
    dt_max: float
    dt_growth: float
    floor: float  # mol/m^3: concentration of species absent from a fluid
    area: float  # m^2 of the donor (reporting only)

    @property
    def ns(self) -> int:
        return len(self.names)

    def charge_per_ion(self, region: Region) -> np.ndarray:
        """Charge that comes with one ionized molecule (its partner form and bound share included)."""
        rho = np.array(region.partner_ratio)
        return np.array(region.retardation) * (self.charge + self.partner_charge * rho)


def _fixed_charge(pH: float, spec) -> float:
    """X(pH) = X_max tanh(ln10 (pI - pH)/2), X_max fixed by the charge at the reference pH."""
    shape_ref = math.tanh(LN10 * (spec.isoelectric_point - spec.reference_pH) / 2.0)
    x_max = spec.charge_at_reference_pH / shape_ref
    return x_max * math.tanh(LN10 * (spec.isoelectric_point - pH) / 2.0)


def problem_from_scenario(sc) -> PeerProblem:
    """Resolve `sc` (an iontosim Scenario) into the peer's coefficients, refusing what it does not model."""
    if "H+" in sc.species or "OH-" in sc.species:
        raise NotImplementedError("the peer has no water chemistry (H+/OH-)")
    if sc.donor.electrode != "Ag/AgCl" or sc.donor.polarity != "anode":
        raise NotImplementedError("the peer models an Ag/AgCl anode only")
    if sc.return_electrode is not None or sc.donor.buffer is not None:
        raise NotImplementedError("the peer has no return electrode pad and no buffers")
    species = sc.species_objects()
    names = [s.name for s in species]
    T = sc.temperature
    weak = sc.ionization == "weak_electrolyte"

    def ratio(sp, pH):
        if not weak or sp.pKa is None:
            return 0.0
        return 10.0 ** (pH - sp.pKa) if sp.acid_base == "base" else 10.0 ** (sp.pKa - pH)

    partner = np.array(
        [
            (s.charge - 1 if s.acid_base == "base" else s.charge + 1) if weak and s.pKa is not None else s.charge
            for s in species
        ],
        dtype=float,
    )
    d_aq = [s.diffusivity(T) for s in species]
    definitions = [sc.definition_of(n) for n in names]
    na, cl = names.index("Na+"), names.index("Cl-")

    def hydraulic(layer, factor):
        """kappa/mu that gives the measured volume per charge at the reference pH and NaCl
        (Helmholtz-Smoluchowski in the pore: v/i = (kappa/mu) F |X| / sigma, sigma by Donnan/TMS)."""
        eo = sc.electroosmosis
        if eo is None or layer.fixed_charge is None:
            return 0.0
        x_ref = _fixed_charge(eo.reference_pH, layer.fixed_charge)
        root = math.sqrt((x_ref / 2.0) ** 2 + eo.reference_salt**2)
        c_plus, c_minus = root - x_ref / 2.0, root + x_ref / 2.0
        sigma = FARADAY**2 / (GAS_CONSTANT * T) * factor * (d_aq[na] * c_plus + d_aq[cl] * c_minus)
        return eo.volume_per_charge * sigma / (FARADAY * abs(x_ref))

    num = sc.numerics
    d = sc.donor
    regions = [
        Region(
            "donor",
            d.thickness,
            d.cells or num.donor_cells,
            1.0 / 8.0,
            1.0,
            0.0,
            0.0,
            0.0,
            tuple(d.diffusivity_factor * x for x in d_aq),
            tuple(1.0 for _ in names),
            tuple(ratio(s, d.pH) for s in species),
            tuple(1.0 for _ in names),
        )
    ]
    for layer in sc.skin:
        if layer.pore_radius is not None or layer.buffer is not None:
            raise NotImplementedError(f"layer {layer.name}: pore hindrance and buffers are not in the peer")
        x = _fixed_charge(layer.pH, layer.fixed_charge) if layer.fixed_charge is not None else 0.0
        regions.append(
            Region(
                layer.name,
                layer.thickness,
                layer.cells or num.default_cells,
                layer.grading,
                layer.porosity,
                x,
                layer.clearance_rate,
                hydraulic(layer, layer.diffusivity_factor),
                tuple(layer.diffusivity_factor * v for v in d_aq),
                tuple(layer.partition_of(n, dd.partition if dd else 1.0) for n, dd in zip(names, definitions)),
                tuple(ratio(s, layer.pH) for s in species),
                tuple(1.0 / (1.0 - dd.binding) if dd else 1.0 for dd in definitions),
            )
        )

    charge = np.array([s.charge for s in species], dtype=float)

    def balanced(given: dict, balance_with: str | None, region: Region) -> np.ndarray:
        total = np.array([given.get(n, 0.0) for n in names], dtype=float)
        rho = np.array(region.partner_ratio)
        q = (charge + partner * rho) / (1.0 + rho)  # charge per molecule of the total
        if balance_with is not None:
            j = names.index(balance_with)
            total[j] = -(sum(q[i] * total[i] for i in range(len(names)) if i != j)) / q[j]
        return np.maximum(total, num.concentration_floor) / (1.0 + rho)

    steps = []
    for step in sc.protocol:
        if step.pulse is not None or step.reverse_every is not None:
            raise NotImplementedError("pulsed or reversed current is not in the peer")
        steps.append((step.duration, step.current_density if step.kind == "current" else 0.0))
    rule = sc.clearance
    return PeerProblem(
        names=names,
        charge=charge,
        partner_charge=partner,
        drug=names.index(sc.drug),
        cleared=[i for i, s in enumerate(species) if s.role == "drug"],
        counter_ion=names.index(rule.counter_ion) if rule.counter_ion else None,
        vasoconstrictor=(names.index(rule.vasoconstrictor) if rule.vasoconstrictor and rule.max_effect > 0 else None),
        max_effect=rule.max_effect,
        ec50=rule.EC50,
        hill=rule.hill,
        regions=regions,
        donor_fluid=balanced(d.concentrations(sc.species_by_name), d.balance_with, regions[0]),
        body_fluid=balanced(sc.interstitial_fluid.concentrations, sc.interstitial_fluid.balance_with, regions[-1]),
        chloride=cl,
        steps=steps,
        temperature=T,
        dt_initial=num.dt_initial,
        dt_max=num.max_step(sum(duration for duration, _ in steps)),  # the rule iontosim steps by
        dt_growth=num.dt_growth,
        floor=num.concentration_floor,
        area=d.area,
    )


# ---------------------------------------------------------------------------- numerics
def graded(length: float, n: int, grading: float) -> np.ndarray:
    """n cell sizes filling `length`, growing geometrically from the first to the last by `grading`."""
    sizes = np.full(n, 1.0) if abs(grading - 1.0) < 1e-12 else grading ** (np.arange(n) / max(n - 1, 1))
    return sizes * (length / sizes.sum())


def bernoulli(x: np.ndarray) -> np.ndarray:
    """B(x) = x / (exp(x) - 1), with its limit 1 - x/2 near 0."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-6
    safe = np.where(small, 1.0, x)
    with np.errstate(over="ignore"):
        return np.where(small, 1.0 - x / 2.0, safe / np.expm1(safe))


def bernoulli_slope(x: np.ndarray) -> np.ndarray:
    """dB/dx = B(x) (1 - B(-x)) / x, with its limit -1/2 near 0 (B(-x) = B(x) + x)."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-4
    safe = np.where(small, 1.0, x)
    b = bernoulli(safe)
    return np.where(small, -0.5 + x / 6.0, b * (1.0 - (b + safe)) / safe)


class AlwaysImplicitSource(ImplicitSourceTerm):
    """coeff * var, always in the matrix. FiPy's ImplicitSourceTerm moves a term whose sign
    opposes the diagonal to the right-hand side (lagging it), which would turn Newton's exact
    coupling (electroneutrality's -c_Cl, the counter-ion's sink) into a fixed-point iteration."""

    def _getWeight(self, var, transientGeomCoeff=None, diffusionGeomCoeff=None):
        zeros = np.zeros(var.shape, "d")
        return {"diagonal": np.ones(var.shape, dtype=bool), "old value": zeros, "b vector": zeros, "new value": zeros}


class RefittedExponentialConvection(fipy.ExponentialConvectionTerm):
    """FiPy's exponential scheme with its weights recomputed at every build: FiPy caches them (and
    the face coefficients made from them) at the first build, from the Peclet numbers then, but the
    drift here changes every iteration (found by comparing a reused equation with a fresh one)."""

    def _buildMatrix(
        self, var, SparseMatrix, boundaryConditions=(), dt=None, transientGeomCoeff=None, diffusionGeomCoeff=None
    ):
        self.stencil = None
        self.coeffMatrix = None
        for cached in ("constraintL", "constraintB"):
            self.__dict__.pop(cached, None)
        return super()._buildMatrix(
            var,
            SparseMatrix,
            boundaryConditions=boundaryConditions,
            dt=dt,
            transientGeomCoeff=transientGeomCoeff,
            diffusionGeomCoeff=diffusionGeomCoeff,
        )


@dataclass
class PeerResult:
    delivered: float  # mol/m^2 of the drug that left the donor by the end
    times: np.ndarray
    delivered_series: np.ndarray
    potential_drop: np.ndarray  # V, phi in the cells under the electrode against the deep boundary (phi = 0)
    steps: int
    rejected: int
    iterations: int
    unknowns: int
    wall: float  # s, the time loop only
    setup: float  # s, mesh, coefficients, initial state and equations


class FiPyColumn:
    """The peer on a FiPy mesh: a 1D Grid1D column, or (dim=2) a laterally uniform Grid2D strip
    `width` wide with `lateral_cells` columns (x lateral, y depth into the skin). `refinement`
    multiplies every region's cell count (each region's count at 1 is the scenario's, as in
    iontosim); `sc_cells` overrides the stratum corneum's count before refinement."""

    NEWTON_TOL = 1e-6  # largest relative change of a concentration and change of psi at convergence (as iontosim)
    MAX_ITERATIONS = 25
    EASY, HARD = 6, 10  # iterations: grow the step after at most EASY, halve it after more than HARD

    def __init__(
        self,
        problem: PeerProblem,
        refinement: float = 1.0,
        dim: int = 1,
        lateral_cells: int = 4,
        width: float = 1e-3,
        sc_cells: int | None = None,
        solver_tolerance: float = 1e-10,
    ):
        start = time.perf_counter()
        self.p = p = problem
        self.dim = dim
        sizes, region = [], []
        for k, reg in enumerate(p.regions):
            base = sc_cells if (sc_cells and k == 1) else reg.cells
            n = max(1, round(base * refinement))
            sizes.append(graded(reg.thickness, n, reg.grading))
            region.append(np.full(n, k))
        dy = np.concatenate(sizes)
        self.region_of_row = np.concatenate(region)
        self.row_edges = np.concatenate([[0.0], np.cumsum(dy)])  # depth below the electrode, m
        self.row_depth = 0.5 * (self.row_edges[1:] + self.row_edges[:-1])
        if dim == 1:
            self.mesh = fipy.Grid1D(dx=dy)
            self.region = self.region_of_row
            self.width = 1.0
        elif dim == 2:
            self.mesh = fipy.Grid2D(dx=width / lateral_cells, nx=lateral_cells, dy=dy)
            self.region = np.repeat(self.region_of_row, lateral_cells)  # cells run x fastest
            self.width = width
        else:
            raise ValueError("dim must be 1 or 2")
        m = self.mesh
        self.depth_of_cell = np.asarray(m.cellCenters)[dim - 1]
        self.volume = np.asarray(m.cellVolumes)
        ns = p.ns
        R = p.regions
        per_cell = lambda attribute, i: np.array([getattr(r, attribute)[i] for r in R])[self.region]  # noqa: E731
        self.D = [per_cell("diffusivity", i) for i in range(ns)]
        self.K = [per_cell("partition", i) for i in range(ns)]
        self.rho = [per_cell("partner_ratio", i) for i in range(ns)]
        self.Rt = [per_cell("retardation", i) for i in range(ns)]
        self.eps = np.array([r.porosity for r in R])[self.region]
        self.X = np.array([r.fixed_charge for r in R])[self.region]
        self.k_clear = np.array([r.clearance_rate for r in R])[self.region]
        self.q = [self.Rt[i] * (p.charge[i] + p.partner_charge[i] * self.rho[i]) for i in range(ns)]
        self.z_eff = [(p.charge[i] + p.partner_charge[i] * self.rho[i]) / (1.0 + self.rho[i]) for i in range(ns)]

        # faces: owner P, neighbour Q (interior), the normal's depth component, distances
        ids = m.faceCellIDs
        self.P = np.asarray(ids[0])
        self.Q = np.where(np.ma.getmaskarray(ids[1]), self.P, np.asarray(ids[1].filled(0)))
        self.interior = np.asarray(m.interiorFaces, dtype=bool)
        normals = np.asarray(m.faceNormals)
        self.n_depth = normals[dim - 1]
        self.distance = np.asarray(m._cellDistances)  # cell to cell, or cell to boundary face
        self.face_area = np.asarray(m._faceAreas)
        face_depth = np.asarray(m.faceCenters)[dim - 1]
        exterior = ~self.interior
        self.top = exterior & (face_depth < 1e-12 * dy.sum())  # the electrode
        self.deep = exterior & (face_depth > dy.sum() * (1 - 1e-12))
        self.same_region = self.region[self.P] == self.region[self.Q]

        self.c = [fipy.CellVariable(mesh=m, name=n, hasOld=True) for n in p.names]
        self.psi = fipy.CellVariable(mesh=m, name="psi", hasOld=True)
        for i, ci in enumerate(self.c):
            ci.constrain(p.body_fluid[i], where=m.exteriorFaces & self.deep)
        self.psi.constrain(0.0, where=m.exteriorFaces & self.deep)
        # Cl- taken by the Ag/AgCl anode: (i/F) per area of the top faces, per volume of their cells
        self.electrode_share = np.zeros(m.numberOfCells)
        np.add.at(self.electrode_share, self.P[self.top], self.face_area[self.top])
        self.electrode_share /= self.volume
        self.velocity = 0.0  # m/s, electroosmotic, into the skin
        # SciPy's SuperLU with row pivoting, refined to `solver_tolerance` of the initial residual.
        # FiPy's PETSc LU (no pivoting) stops at the electroneutrality rows, whose diagonal
        # (the psi column) is empty: "Matrix is missing diagonal entries".
        self.solver = LinearLUSolver(criterion="initial", tolerance=solver_tolerance, iterations=4)
        self.unknowns = (ns + 1) * m.numberOfCells
        self._initial_state()
        self._build_equations()
        self.setup = time.perf_counter() - start

    # ------------------------------------------------------------------ state
    def _potential(self, mu: list[np.ndarray]) -> np.ndarray:
        """psi per cell with sum_i q_i K_i exp(mu_i - z_i psi) + X = 0 (monotone in psi: Newton)."""
        psi = np.zeros(len(self.X))
        z = self.p.charge
        for _ in range(200):
            c = [self.K[i] * np.exp(mu[i] - z[i] * psi) for i in range(self.p.ns)]
            f = sum(self.q[i] * c[i] for i in range(self.p.ns)) + self.X
            df = -sum(z[i] * self.q[i] * c[i] for i in range(self.p.ns))
            step = np.clip(-f / df, -2.0, 2.0)
            psi += step
            if np.max(np.abs(step)) < 1e-14:
                return psi
        raise RuntimeError("no potential makes the initial state electroneutral")

    def _initial_state(self) -> None:
        """Donor gel at its composition over skin in equilibrium with the interstitial fluid
        (mu_i = ln of the fluid's concentration, Donnan potentials from electroneutrality)."""
        p = self.p
        in_donor = self.region == 0
        mu = [np.log(np.where(in_donor, p.donor_fluid[i], p.body_fluid[i])) for i in range(p.ns)]
        psi = self._potential(mu)
        for i, ci in enumerate(self.c):
            ci.setValue(self.K[i] * np.exp(mu[i] - p.charge[i] * psi))
            ci.updateOld()
        self.psi.setValue(psi)
        self.psi.updateOld()

    def amounts(self, in_donor: bool = True) -> np.ndarray:
        """mol per m^2 of anode of each species (both forms, bound included) in the donor or the skin."""
        where = (self.region == 0) if in_donor else (self.region > 0)
        return (
            np.array(
                [
                    np.sum((self.eps * self.Rt[i] * (1 + self.rho[i]) * np.asarray(ci) * self.volume)[where])
                    for i, ci in enumerate(self.c)
                ]
            )
            / self.width
        )

    # ------------------------------------------------------------------ one iteration
    def _face_fluxes(self, i: int, psi: np.ndarray, c: np.ndarray):
        """Per face, for species i: the drift x = phi_Q - phi_P across it, the face diffusivity D_f
        such that its flux is the fitted one, J = (D_f/d) [B(x) c_P - B(-x) c_Q], and the derivative
        coefficient a (dJ/d(psi_Q - psi_P) = -a/d) of Newton's psi coupling.

        Within a layer: x = (z + zp rho)/(1 + rho) (psi_Q - psi_P) - v d/D (the drift of the total),
        D_f the harmonic mean of D (1 + rho) over the two half cells. Across a layer interface the
        whole x = z (psi_Q - psi_P) - ln(K_Q/K_P) is put at the interface as a jump of c (Donnan and
        partition: exact at zero flux, where the field over the half cells vanishes) between two
        half cells of plain diffusion in series: J = (r c_P - c_Q) / (R_Q + r R_P), r = exp(-x),
        R = (half-cell length) / (D (1 + rho)). In the fitted form that is D_f = d / (B(-x) R_Q +
        B(x) R_P): the plain harmonic mean with x over the face instead would scale the interface's
        conductance by B(-x) and leave a first-order error in the delivered dose."""
        P, Q = self.P, self.Q
        D, rho = self.D[i], self.rho[i]
        dpsi = np.where(self.deep, 0.0 - psi[P], psi[Q] - psi[P])  # the deep face: psi = 0
        # two half cells in series: FiPy's ratio is (owner's centre to face) / (centre to centre)
        ratio = np.asarray(self.mesh._faceToCellDistanceRatio)
        d_harm = np.where(self.interior, 1.0 / (ratio / D[P] + (1 - ratio) / D[Q]), D[P])
        peclet_flow = self.velocity * self.n_depth * self.distance / d_harm
        interface = self.interior & ~self.same_region
        slope = np.where(interface, self.p.charge[i], self.z_eff[i][P])
        jump = np.where(interface, np.log(self.K[i][Q]) - np.log(self.K[i][P]), 0.0)
        x = slope * dpsi - jump - peclet_flow
        dprime = D * (1 + rho)
        d = self.distance
        r_p, r_q = ratio * d / dprime[P], (1 - ratio) * d / dprime[Q]
        within_face = np.where(self.interior, d / (r_p + r_q), dprime[P])
        b_plus, b_minus = bernoulli(x), bernoulli(-x)
        across = d / (b_minus * r_q + b_plus * r_p)
        d_face = np.where(interface, across, within_face)
        c_out = np.where(self.deep, self.p.body_fluid[i], c[Q])
        db_plus, db_minus = bernoulli_slope(x), bernoulli_slope(-x)
        # within: dJ/dx = (D_f/d) [B'(x) c_P + B'(-x) c_Q]
        djdx = d_face / d * (db_plus * c[P] + db_minus * c_out)
        # across: J = N/M, N = B(x) c_P - B(-x) c_Q, M = B(-x) R_Q + B(x) R_P
        n_ = b_plus * c[P] - b_minus * c_out
        m_ = b_minus * r_q + b_plus * r_p
        djdx_across = ((db_plus * c[P] + db_minus * c_out) * m_ - n_ * (-db_minus * r_q + db_plus * r_p)) / m_**2
        djdx = np.where(interface, djdx_across, djdx)
        a = np.where(self.top, 0.0, -d * slope * djdx)
        return x, d_face, a

    def _build_equations(self) -> None:
        """The coupled FiPy equations, built once; their coefficients are variables that
        _update_coefficients sets before every iteration (FiPy re-evaluates what depends on them)."""
        p, m = self.p, self.mesh
        nf = m.numberOfFaces

        def cells(values=0.0):  # a cell-wise coefficient (a bare array would be read as a vector)
            return fipy.CellVariable(mesh=m, value=values)

        self.coef = []
        eqs = []
        for i, ci in enumerate(self.c):
            k = {
                "d_face": fipy.FaceVariable(mesh=m, value=np.zeros(nf)),
                "u": fipy.FaceVariable(mesh=m, rank=1, value=np.zeros((self.dim, nf))),
                "a": fipy.FaceVariable(mesh=m, value=np.zeros(nf)),
                "sink": cells(),
                "electrode": cells(),
                "carried": {j: cells() for j in p.cleared},
            }
            # the psi-derivative of the face fluxes: implicit, minus itself at the iterate (explicit)
            at_iterate = (k["a"] * self.psi.faceGrad).divergence
            rhs = (
                fipy.DiffusionTerm(coeff=k["d_face"], var=ci)
                - RefittedExponentialConvection(coeff=k["u"], var=ci)
                + fipy.DiffusionTerm(coeff=k["a"], var=self.psi)
                - at_iterate
            )
            if i in p.cleared and np.any(self.k_clear > 0):
                rhs = rhs - AlwaysImplicitSource(coeff=k["sink"], var=ci)
            if i == p.counter_ion:
                for j in p.cleared:  # leaves with the charge of the cleared drug (both forms)
                    rhs = rhs + AlwaysImplicitSource(coeff=k["carried"][j], var=self.c[j])
            if i == p.chloride:
                rhs = rhs - k["electrode"]
            storage = self.eps * self.Rt[i] * (1 + self.rho[i])
            eqs.append(fipy.TransientTerm(coeff=cells(storage), var=ci) == rhs)
            self.coef.append(k)
        neutral = sum(AlwaysImplicitSource(coeff=cells(self.q[i]), var=ci) for i, ci in enumerate(self.c))
        eqs.append(neutral + cells(self.X) == 0.0)
        coupled = eqs[0]
        for eq in eqs[1:]:
            coupled = coupled & eq
        self.equations = coupled

    def _update_coefficients(self, current_density: float) -> None:
        p = self.p
        psi = np.asarray(self.psi)
        c = [np.asarray(ci) for ci in self.c]
        # vasoconstriction, lagged by one iteration (the only coupling not differentiated)
        k_eff = self.k_clear
        if p.vasoconstrictor is not None:
            v = p.vasoconstrictor
            activity = np.maximum(c[v] * (1 + self.rho[v]), 0.0) ** p.hill
            k_eff = k_eff * (1.0 - p.max_effect * activity / (p.ec50**p.hill + activity))
        normals = np.asarray(self.mesh.faceNormals)
        for i, k in enumerate(self.coef):
            drift, d_face, a = self._face_fluxes(i, psi, c[i])
            # FiPy's exponential scheme with u = -D_f x / d gives exactly the fitted flux above
            u = np.where(self.top, 0.0, -d_face * drift / self.distance)
            k["d_face"].setValue(d_face)
            k["u"].setValue(u * normals)
            k["a"].setValue(a)
            if i in p.cleared:
                k["sink"].setValue(k_eff * self.eps * (1 + self.rho[i]))
            if i == p.counter_ion:
                for j in p.cleared:
                    k["carried"][j].setValue(
                        (p.charge[j] + p.partner_charge[j] * self.rho[j]) / p.charge[i] * k_eff * self.eps
                    )
            if i == p.chloride:
                k["electrode"].setValue(current_density / FARADAY * self.electrode_share)

    def _electroosmotic_velocity(self) -> float:
        """v = F sum_l X_l (phi_bottom - phi_top)_l / sum_l (L_l / (kappa/mu)_l) over the charged
        layers, each layer's potential drop extrapolated linearly from its first and last two rows
        of cells (the Donnan jumps at its faces lie outside it)."""
        drive, resistance = 0.0, 0.0
        vt = GAS_CONSTANT * self.p.temperature / FARADAY
        psi_rows = np.asarray(self.psi).reshape(len(self.row_depth), -1).mean(axis=1)  # laterally uniform
        y = self.row_depth
        for k, reg in enumerate(self.p.regions):
            if reg.hydraulic <= 0.0:
                continue
            rows = np.flatnonzero(self.region_of_row == k)
            if len(rows) < 2:
                raise ValueError(f"{reg.name} needs two cells for its potential drop")
            first, second, penult, last = rows[0], rows[1], rows[-2], rows[-1]
            top_edge, bottom_edge = self.row_edges[first], self.row_edges[last + 1]
            top = psi_rows[first] + (psi_rows[second] - psi_rows[first]) / (y[second] - y[first]) * (
                top_edge - y[first]
            )
            bottom = psi_rows[last] + (psi_rows[last] - psi_rows[penult]) / (y[last] - y[penult]) * (
                bottom_edge - y[last]
            )
            drive += reg.fixed_charge * (bottom - top) * vt
            resistance += reg.thickness / reg.hydraulic
        return FARADAY * drive / resistance if resistance > 0 else 0.0

    def _iterate(self, current_density: float, dt: float) -> tuple[bool, int]:
        """Newton iterations of one backward-Euler step from the old values; (converged, iterations)."""
        for iteration in range(1, self.MAX_ITERATIONS + 1):
            before = [np.array(ci) for ci in self.c] + [np.array(self.psi)]
            self._update_coefficients(current_density)
            self.equations.sweep(dt=dt, solver=self.solver)
            after = [np.array(ci) for ci in self.c] + [np.array(self.psi)]
            if not all(np.all(np.isfinite(a)) for a in after):
                return False, iteration
            # damp a fall of a concentration to a tenth per iteration (an iterate only: at
            # convergence the step is zero, so the solution is the scheme's, never clipped)
            change = 0.0
            for i, ci in enumerate(self.c):
                old, new = before[i], after[i]
                limited = np.maximum(new, 0.1 * old)
                ci.setValue(limited)
                relevant = np.maximum(old, limited) > 1e3 * self.p.floor
                change = max(change, np.max(np.abs(limited - old)[relevant] / old[relevant], initial=0.0))
            change = max(change, np.max(np.abs(after[-1] - before[-1])))
            if change < self.NEWTON_TOL:
                return True, iteration
        return False, self.MAX_ITERATIONS

    # ------------------------------------------------------------------ time loop
    def run(self, end: float | None = None) -> PeerResult:
        p = self.p
        start = time.perf_counter()
        breaks = np.cumsum([d for d, _ in p.steps])
        currents = [i for _, i in p.steps]
        end = breaks[-1] if end is None else end
        donor0 = self.amounts()[p.drug]
        t, dt, k = 0.0, p.dt_initial, 0
        times, delivered, drop = [0.0], [0.0], [0.0]
        steps = rejected = iterations = 0
        vt = GAS_CONSTANT * p.temperature / FARADAY
        while t < end * (1 - 1e-12):
            while k < len(breaks) - 1 and t >= breaks[k] * (1 - 1e-12):
                k += 1
            target = min(breaks[k], end)
            h = min(dt, target - t)
            if target - (t + h) < 1e-6 * h:
                h = target - t
            self.velocity = self._electroosmotic_velocity()
            ok, its = self._iterate(currents[k], h)
            iterations += its
            if not ok:
                rejected += 1
                for ci in self.c:
                    ci.setValue(ci.old)
                self.psi.setValue(self.psi.old)
                dt = h * 0.25
                if dt < 1e-9:
                    raise RuntimeError(f"FiPy peer: time step below 1e-9 s at t = {t:g} s")
                continue
            for var in self.c + [self.psi]:
                var.updateOld()
            t = target if abs(target - (t + h)) <= 1e-9 * max(1.0, target) else t + h
            steps += 1
            if its <= self.EASY:
                dt = min(max(dt, h) * p.dt_growth, p.dt_max)
            elif its > self.HARD:
                dt = h * 0.5
            if t >= target * (1 - 1e-12) and k + 1 < len(currents) and currents[k + 1] != currents[k]:
                dt = p.dt_initial  # the current switched: start again from the first step size
            times.append(t)
            delivered.append(donor0 - self.amounts()[p.drug])
            top = np.asarray(self.psi)[self.P[self.top]].mean()
            drop.append(top * vt)
        wall = time.perf_counter() - start
        return PeerResult(
            delivered=delivered[-1],
            times=np.array(times),
            delivered_series=np.array(delivered),
            potential_drop=np.array(drop),
            steps=steps,
            rejected=rejected,
            iterations=iterations,
            unknowns=self.unknowns,
            wall=wall,
            setup=self.setup,
        )

    # ------------------------------------------------------------------ checks
    def balances(self) -> dict:
        """Electroneutrality residual (largest |sum q c + X| over cells, relative to the ionic strength)."""
        net = sum(self.q[i] * np.asarray(ci) for i, ci in enumerate(self.c)) + self.X
        strength = sum(np.abs(self.q[i]) * np.asarray(ci) for i, ci in enumerate(self.c))
        return {"electroneutrality": float(np.max(np.abs(net) / strength))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", nargs="?", default=str(CONFIG))
    parser.add_argument("--refinement", type=float, default=1.0)
    parser.add_argument("--dim", type=int, default=1, choices=[1, 2])
    parser.add_argument("--minutes", type=float, default=None, help="stop after this many minutes")
    args = parser.parse_args()
    from iontosim.scenario.load import load_scenario

    problem = problem_from_scenario(load_scenario(args.config))
    column = FiPyColumn(problem, refinement=args.refinement, dim=args.dim)
    result = column.run(None if args.minutes is None else 60.0 * args.minutes)
    print(
        f"FiPy peer, {args.dim}D, refinement {args.refinement:g}: {result.unknowns} unknowns, "
        f"{result.steps} steps ({result.rejected} rejected), {result.iterations} iterations, "
        f"{result.wall:.2f} s; delivered {result.delivered:.6e} mol/m^2; {column.balances()}"
    )


if __name__ == "__main__":
    main()
