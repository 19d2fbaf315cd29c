"""The discrete model of one scenario: mesh, unknowns, the fundamental relations, and the terms.

The unknowns (a mixed space) are mu_i (P1, continuous) for every species and psi (DG1, jumps at
layer interfaces), with c_i = K_i exp(mu_i - z_i psi) (physics/transport.py); terms may add scalar
unknowns beside them (physics/term.py). Every coefficient is a cell-wise (DG0) field, so scenarios
with the same species count and the same switched-on terms share one compiled form.

The model builds the fundamental relations once, asking every term what it adds to them: the
mobile forms that carry charge, what a unit of pore volume holds of each species (`totals`,
`held`), and immobile charge. Then it sums the terms' residuals. `compose` decides which terms a
scenario switches on; a caller may add its own (`extra_terms`). Nothing here knows any term but
through the hooks of iontosim.model.term.Term.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from iontosim._fenics import MPI, dolfinx, ufl
from iontosim.library.species import Species
from iontosim.mesh.column import ELECTRODE, LayerGeometry, build_column
from iontosim.mesh.skin_mesh import RETURN
from iontosim.model.regions import RETURN_PAD, Region, region_names, resolve_regions
from iontosim.physics import transport
from iontosim.physics.constants import thermal_voltage
from iontosim.physics.term import Ledger, LedgerEntry, Term, TransportedForm

fem = dolfinx.fem
T = TypeVar("T", bound=Term)

__all__ = [
    "Model",
    "NodalSpeciation",
    "Term",
    "LedgerEntry",
    "Ledger",
    "TransportedForm",
    "assembled_vector",
    "compose",
]


@dataclass
class NodalSpeciation:
    """Per (species, owned cell vertex) data of the local relations, for the pointwise solves (the
    initial potential, the Newton update's limits): terms fill in what they own."""

    partition: np.ndarray  # K
    charge: np.ndarray  # z of the ionized form
    partner_ratio: np.ndarray  # rho, 0 for strong electrolytes (physics/ionization.py)
    partner_charge: np.ndarray  # z of the partner form
    retardation: np.ndarray  # held per free (physics/binding.py)
    fixed: np.ndarray  # (vertex,) immobile charge at the region's own pH [mol/m^3]


def compose(scenario, model: Model) -> list[Term]:
    """The terms `scenario` switches on, in the order the model asks them (it sets the order of
    the residual's sum and of the chained relations)."""
    from iontosim.output.surface_current import SurfaceCurrent
    from iontosim.physics import (
        binding,
        buffers,
        clearance,
        deep_tissue,
        electrodes,
        electroneutrality,
        electroosmosis,
        fixed_charge,
        ionization,
        lipid_route,
        patch,
        pharmacokinetics,
        receptor,
        stirring,
        water,
    )

    terms: list[Term | None] = [
        transport.NernstPlanck(),
        ionization.WeakElectrolytes.switched_on(scenario, model),
        binding.TissueBinding.switched_on(scenario, model),
        lipid_route.LipidRoute.switched_on(scenario, model),
        buffers.ImmobileBuffers.switched_on(scenario, model),
        fixed_charge.FixedCharge(),
        electroosmosis.Electroosmosis.switched_on(scenario, model),
        clearance.CapillaryClearance(),
        electroneutrality.Electroneutrality(),
        water.WaterDissociation.switched_on(scenario, model),
        water.SurfacePH.switched_on(scenario, model),
        electrodes.DonorElectrode(),
        electrodes.ReturnElectrode.switched_on(scenario, model),
        stirring.StirredDonor.switched_on(scenario, model),
        receptor.StirredReceptor.switched_on(scenario, model) or deep_tissue.InterstitialBoundary(),
        patch.PatchChanges.switched_on(scenario, model),
        pharmacokinetics.SystemicCirculation(),
        SurfaceCurrent.switched_on(scenario, model),
    ]
    return [t for t in terms if t is not None]


class Model:
    """Layered skin under a donor gel, built on communicator `comm`: the 1D column under the donor
    electrode, or a given mesh (`skin_mesh`, iontosim.mesh.skin_mesh) with the same tags, which may
    add a return electrode's pad and appendage channels. Quantities per area are per area of the
    donor electrode. `extra_terms` are added after the scenario's own (a term of the caller's);
    `terms` replaces the composition altogether."""

    def __init__(
        self,
        scenario,
        comm: MPI.Comm,
        skin_mesh=None,
        *,
        extra_terms: Iterable[Term] = (),
        terms: Sequence[Term] | None = None,
    ):
        self.scenario = scenario
        self.comm = comm
        self.species: list[Species] = scenario.species_objects()
        self.names = [s.name for s in self.species]
        self.ns = len(self.species)
        self.temperature = scenario.temperature
        self.drug_index = self.names.index(scenario.drug)
        #: H+ and OH- transported, every region's pH an outcome (scenario.pH_model)
        self.moving_pH = scenario.pH_model == "moving" and {"H+", "OH-"} <= set(self.names)
        self._given_mesh = skin_mesh
        self.regions: list[Region] = resolve_regions(scenario, self.species, region_names(scenario, skin_mesh))
        self._build_mesh()
        self._build_spaces()
        if terms is None:
            extra = list(extra_terms)
            replaced = tuple(kind for term in extra for kind in term.replaces)
            terms = [t for t in compose(scenario, self) if not isinstance(t, replaced)] + extra
        self.terms: list[Term] = list(terms)
        for term in self.terms:
            term.setup(self)
        self._build_relations()
        self._build_forms()

    # ------------------------------------------------------------------ terms
    def find(self, kind: type[T]) -> T | None:
        """The model's term of type `kind`, or None when the scenario does not switch it on."""
        return next((t for t in self.terms if isinstance(t, kind)), None)

    def term(self, kind: type[T]) -> T:
        """The model's term of type `kind`, which the caller needs (LookupError without it)."""
        found = self.find(kind)
        if found is None:
            raise LookupError(f"the model has no {kind.__name__} term")
        return found

    def index(self, species: str) -> int:
        return self.names.index(species)

    @property
    def deepest(self) -> int:
        """Index (cell tag) of the deepest skin layer, the one on the deep boundary."""
        return len(self.scenario.skin)

    def region_names(self) -> list[str]:
        return [r.name for r in self.regions]

    def region_index(self, name: str) -> int:
        return self.region_names().index(name)

    # ------------------------------------------------------------------ mesh and spaces
    def _build_mesh(self) -> None:
        if self._given_mesh is not None:
            self.column = self._given_mesh
            self.mesh = self.column.mesh
            return
        sc = self.scenario
        (_, donor_cells), *layer_cells = sc.column_cells()
        geo = [LayerGeometry("donor", sc.donor.thickness, donor_cells, grading=1.0 / 8.0)]  # fine next to the skin
        for layer, (_, cells) in zip(sc.skin, layer_cells):
            geo.append(LayerGeometry(layer.name, layer.thickness, cells, layer.grading))
        self.column = build_column(self.comm, geo, top=-sc.donor.thickness)
        self.mesh = self.column.mesh

    def _build_spaces(self) -> None:
        import basix.ufl

        mesh = self.mesh
        p1 = basix.ufl.element("Lagrange", mesh.basix_cell(), 1)
        dg1 = basix.ufl.element("DG", mesh.basix_cell(), 1)
        self.W = fem.functionspace(mesh, basix.ufl.mixed_element([p1] * self.ns + [dg1]))
        self.u = fem.Function(self.W, name="state")
        self.u_previous = fem.Function(self.W, name="previous_state")
        #: BDF2 (numerics.time_scheme): the state one level before u_previous, and the weights
        #: (a0, a1, a2) of the levels, set by the time loop before each step
        self.bdf2 = self.scenario.numerics.time_scheme == "bdf2"
        self.u_before: Any = fem.Function(self.W, name="state_before_previous") if self.bdf2 else None
        self.time_weights = tuple(fem.Constant(mesh, w) for w in (1.0, 1.0, 0.0))
        self.maps = [np.asarray(self.W.sub(i).collapse()[1]).ravel() for i in range(self.ns + 1)]
        self.dg0 = fem.functionspace(mesh, ("DG", 0))
        tags = self.column.cell_tags
        n_local = mesh.topology.index_map(mesh.topology.dim).size_local
        layer_of_cell = np.empty(n_local, dtype=np.int32)
        owned = tags.indices < n_local  # a mesh ghosted across facets also tags its ghost cells
        layer_of_cell[tags.indices[owned]] = tags.values[owned]
        self.layer_of_cell = layer_of_cell
        # Nodal views (per owned cell, per vertex), fixed for the run: building them from the
        # dofmap on every Newton iteration cost more than the assembly itself.
        self._cell_dofs = [self.W.sub(i).dofmap.list[:n_local].ravel() for i in range(self.ns + 1)]
        self.nodal_layer = np.repeat(layer_of_cell, self.W.sub(0).dofmap.list.shape[1])
        geo = mesh.geometry
        dofmap = geo.dofmaps[0] if hasattr(geo, "dofmaps") else geo.dofmap  # 0.11 / 0.10
        x = geo.x[dofmap[:n_local].ravel(), : mesh.topology.dim]
        self._depths = x[:, -1].copy()  # the last coordinate is the depth
        self._lateral = np.max(np.abs(x[:, :-1]), axis=1, initial=0.0)
        self._vertex_x = x[:, 0].copy()  # first lateral coordinate (the depth on the column)
        self.porosity = self.cellwise([r.porosity for r in self.regions], "porosity")
        self.partition = [self.cellwise([r.partition[i] for r in self.regions], f"K_{i}") for i in range(self.ns)]
        self.charge = [
            self.cellwise([float(sp.charge)] * len(self.regions), f"z_{i}") for i, sp in enumerate(self.species)
        ]
        lay = self.nodal_layer
        self.nodal = NodalSpeciation(
            partition=np.array([r.partition for r in self.regions]).T[:, lay],
            charge=np.array([[float(sp.charge) for sp in self.species]] * len(self.regions)).T[:, lay],
            partner_ratio=np.zeros((self.ns, len(lay))),
            partner_charge=np.zeros((self.ns, len(lay))),
            retardation=np.ones((self.ns, len(lay))),
            fixed=np.zeros(len(lay)),
        )
        # per (region, species): the partner form's share and charge (physics/ionization.py fills them)
        self.partner_ratio = np.zeros((len(self.regions), self.ns))
        self.partner_charge = np.array([float(sp.charge) for sp in self.species])
        #: with moving pH, rho of every species from the nodal ionized forms (physics/ionization.py)
        self.nodal_ratio_of: Any = None
        self.velocity: Any = None  # m/s, the solvent's (a flow term sets it)
        self.has_flow = False
        self.flow_model: str | None = None  # "column" or "darcy" (the flow term says which)
        #: mol/m^2 of each species in each region at the present state (the time loop keeps it)
        self.inventory = np.zeros((len(self.regions), self.ns))
        self.flux_used = "lumped"
        self._probes: dict[tuple[float, bool], int] = {}
        self._mean_charges: np.ndarray | None = None
        self.dt = fem.Constant(mesh, 1e-3)
        self.current_density = fem.Constant(mesh, 0.0)  # A/m^2, positive: anodic (into the skin)
        self.depth_axis = mesh.topology.dim - 1  # the last coordinate is the depth, positive into the skin
        self._build_geometry_data(x)

    def _build_geometry_data(self, x: np.ndarray) -> None:
        """What a 2D/3D patch adds: its geometry, the 2 pi r weight of axisymmetric discs, the cells
        of the top skin layer and of its surface row."""
        mesh = self.mesh
        n_local = len(self.layer_of_cell)
        self.geometry = geometry = getattr(self.column, "geometry", None)
        boundaries = getattr(self.column, "boundaries", {})
        self.has_return = RETURN in boundaries and geometry is not None and not geometry.laterally_uniform
        # Axisymmetric patches integrate with 2 pi r, r taken at each cell's centroid (a DG0
        # field): with a pointwise r, vertex quadrature would give the nodes on the axis no volume
        # and their electroneutrality rows would vanish. For the rectangular cells of the mesher
        # the centroid rule is exact for every cell's volume and every facet's area.
        self.weight = None
        if geometry is not None and geometry.kind == "axisymmetric":
            self.weight = fem.Function(self.dg0, name="2_pi_r")
            self.weight.interpolate(lambda p: 2.0 * np.pi * p[0])
            self.weight.x.scatter_forward()
        gdim = mesh.geometry.dim
        centroid = fem.Function(fem.functionspace(mesh, ("DG", 0, (gdim,))))
        centroid.interpolate(lambda p: p[:gdim])
        #: lateral coordinates (m) of each owned cell's centroid, shape (cells, gdim - 1)
        self.cell_lateral_coordinates = centroid.x.array.reshape(-1, gdim)[:n_local, :-1].copy()
        names = self.region_names()
        appendage = names.index("appendages") if "appendages" in names else -1
        # the appendage cells within the top layer's depth: a follicle of a mesh file goes deeper
        depths = self._depths.reshape(n_local, -1)
        top_band = depths.mean(axis=1) < self.regions[1].thickness
        self.appendage_cells = (self.layer_of_cell == appendage) & top_band
        self.top_layer_cells = (self.layer_of_cell == 1) | self.appendage_cells
        # cells with a facet on the skin surface (at least tdim vertices at depth 0), not a corner
        on_surface = (np.abs(depths) <= 1e-9 * self.regions[1].thickness).sum(axis=1)
        self.surface_row_cells = self.top_layer_cells & (on_surface >= mesh.topology.dim)

    def under_donor_cells(self) -> np.ndarray:
        """Owned cells under the donor electrode (every cell on a column or a laterally uniform patch)."""
        geometry = self.geometry
        if geometry is None or geometry.laterally_uniform:
            return np.ones(len(self.layer_of_cell), dtype=bool)
        return self.cell_lateral_coordinates.max(axis=1, initial=0.0) <= geometry.edges[0] * (1 + 1e-9)

    def cellwise(self, values: Sequence[float], name: str) -> dolfinx.fem.Function:
        """A DG0 field with one value per region (by cell tag)."""
        f = fem.Function(self.dg0, name=name)
        f.x.array[: len(self.layer_of_cell)] = np.asarray(values, dtype=float)[self.layer_of_cell]
        f.x.scatter_forward()
        return f

    def per_vertex(self, values: Sequence[float]) -> np.ndarray:
        """One value per region, at every (owned cell, vertex)."""
        return np.asarray(values, dtype=float)[self.nodal_layer]

    def weighted(self, form):
        """`form` with the patch's measure: 2 pi r dx on axisymmetric patches, itself otherwise."""
        if self.weight is None:
            return form
        from ufl.algorithms.map_integrands import map_integrands

        return map_integrands(lambda integrand: self.weight * integrand, form)

    def compiled(self, form):
        return fem.form(self.weighted(form))

    # ------------------------------------------------------------------ relations and forms
    def _build_relations(self) -> None:
        """The fundamental relations, with what every term adds to them (physics/term.py)."""
        self.dx = ufl.Measure(
            "dx", domain=self.mesh, metadata=transport.VERTEX_QUADRATURE, subdomain_data=self.column.cell_tags
        )
        self.dx_midpoint = ufl.Measure(
            "dx", domain=self.mesh, metadata=transport.MIDPOINT_QUADRATURE, subdomain_data=self.column.cell_tags
        )
        self.ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=self.column.facet_tags)
        parts = ufl.split(self.u)
        self.mu, self.psi = list(parts[: self.ns]), parts[self.ns]
        self.tests = list(ufl.TestFunctions(self.W))
        self.tests_by_name = {n: self.tests[i] for i, n in enumerate(self.names)}
        self.c = self.concentrations(self.u)
        self.c_previous = self.concentrations(self.u_previous)
        self.forms: list[TransportedForm] = [f for term in self.terms for f in term.transported_forms(self)]
        for term in self.terms:
            self.forms = term.adjust_forms(self, self.forms)
        self.totals = self.totals_of(self.c)
        self.held = self.held_of(self.c)
        self.held_previous = self.held_of(self.c_previous)
        self.held_before: Any = self.held_of(self.concentrations(self.u_before)) if self.bdf2 else None
        # per cell and species (DG0 vectors): the test function of the diagnostics' forms
        self.species_test = ufl.TestFunction(fem.functionspace(self.mesh, ("DG", 0, (self.ns,))))
        for term in self.terms:
            term.build(self)

    def concentrations(self, u) -> list:
        """c_i = K_i exp(mu_i - z_i psi) of every species' ionized form, from a state `u`."""
        parts = ufl.split(u)
        psi = parts[self.ns]
        return [transport.concentration(parts[i], psi, self.partition[i], self.charge[i]) for i in range(self.ns)]

    def totals_of(self, c: Sequence[Any]) -> list:
        """Every dissolved form of each species per pore volume, from the ionized forms `c`."""
        out = []
        for i, ci in enumerate(c):
            total = ci
            for term in self.terms:
                total = term.total(self, i, total, c)
            out.append(total)
        return out

    def dissolved_of(self, c: Sequence[Any]) -> list:
        """Each species' own dissolved forms per pore volume (UFL), from the ionized forms `c`: what
        `nodal_totals` gives at the vertices. It differs from `totals_of` only in H+'s row under a
        moving pH, which there holds the free protons alone (its conservation law also counts the
        protons the weak electrolytes carry)."""
        from iontosim.physics.ionization import WeakElectrolytes

        weak = self.find(WeakElectrolytes)
        if weak is None:
            return list(c)
        return [ci * (1.0 + weak.ratio(self, i, c)) if i in weak.weak else ci for i, ci in enumerate(c)]

    def held_of(self, c: Sequence[Any]) -> list:
        """What a unit of pore volume holds of each species (dissolved, bound, on buffers)."""
        out = []
        for i, total in enumerate(self.totals_of(c)):
            amount = total
            for term in self.terms:
                amount = term.held(self, i, amount, c)
            out.append(amount)
        return out

    def immobile_charge(self, c: Sequence[Any]) -> Any:
        """Charge density [mol/m^3 of pore fluid] of everything that does not move."""
        total = None
        for term in self.terms:
            part = term.immobile_charge(self, c)
            if part is not None:
                total = part if total is None else total + part
        return total if total is not None else 0.0

    def _build_forms(self) -> None:
        F = None
        for term in self.terms:
            part = term.residual(self)
            if part is not None:
                F = part if F is None else F + part
        separate = [r for r in (term.separate_residual(self) for term in self.terms) if r is not None]
        # A part with another quadrature (the fitted flux at the midpoint) is a form of its own,
        # assembled after the vertex terms: compiled together, the Jacobian's vertex terms were
        # evaluated at the midpoint (found by a finite-difference check of the Jacobian).
        parts = [F] + separate
        self.residual = [self.compiled(G) for G in parts]
        self.jacobian = [self.compiled(ufl.derivative(G, self.u)) for G in parts]
        self._residual_ufl = parts
        # the inventory: what each species has per cell (DG0 vectors)
        w = self.species_test
        self.amount_form = self.compiled(sum(self.porosity * self.held[i] * w[i] for i in range(self.ns)) * self.dx)
        # quantities per area are per area of the donor electrode (1 for the column's point electrode)
        self.anode_area = self.area(self.ds(ELECTRODE))
        self.return_area = self.area(self.ds(RETURN)) if self.has_return else 0.0

    def residual_ufl(self) -> list:
        """The residual's parts as UFL forms (for terms that differentiate or test it otherwise)."""
        return list(self._residual_ufl)

    def tied_node_forms(self, dofs: np.ndarray) -> dict[str, list]:
        """Forms for nodes `dofs` of u tied to a scalar unknown (solver/newton.py GlobalUnknowns,
        e.g. the stirred receptor, an equipotential metal): the residual summed over them ("flux",
        a functional), its derivative in u ("gradient": dG/du) and the Jacobian's action on them
        ("column": dF/dg). One form per part of the residual: parts of other quadratures must not
        be compiled together (_build_forms)."""
        phi = fem.Function(self.W)
        phi.x.array[dofs] = 1.0
        actions = [ufl.action(part, phi) for part in self.residual_ufl()]
        return {
            "flux": [self.compiled(a) for a in actions],
            "gradient": [self.compiled(ufl.derivative(a, self.u)) for a in actions],
            "column": [self.compiled(ufl.derivative(part, self.u, phi)) for part in self.residual_ufl()],
        }

    def summed(self, functionals: Sequence[Any]) -> float:
        """The value the compiled functionals add up to, over every rank."""
        return self.comm.allreduce(sum(fem.assemble_scalar(f) for f in functionals), op=MPI.SUM)

    def petsc_vector(self, parts: Sequence[Any]):
        """The PETSc vector (u's layout) the compiled vector forms `parts` add up to, ghost
        contributions summed into their owners."""
        from iontosim._fenics import PETSc

        vec = fem.petsc.create_vector(self.W)
        with vec.localForm() as local:
            local.set(0.0)
        for form in parts:
            fem.petsc.assemble_vector(vec, form)
        vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        return vec

    def per_species_form(self, rates: Sequence[Any]):
        """A compiled form of per-cell, per-species integrals of `rates` (None: nothing) [x dx]."""
        parts = [rate * self.species_test[i] for i, rate in enumerate(rates) if rate is not None]
        return self.compiled(sum(parts) * self.dx) if parts else None

    def area(self, measure) -> float:
        return self.comm.allreduce(fem.assemble_scalar(self.compiled(1.0 * measure)), op=MPI.SUM)

    # ------------------------------------------------------------------ reductions
    def per_region(self, form) -> np.ndarray:
        """Integrals of a per-species form (per_species_form) summed per region, per anode area:
        shape (regions, species), zeros for None."""
        if form is None:
            return np.zeros((len(self.regions), self.ns))
        n = len(self.layer_of_cell)
        per_cell = assembled_vector(form)[: n * self.ns].reshape(n, self.ns)
        out = np.zeros((len(self.regions), self.ns))
        np.add.at(out, self.layer_of_cell, per_cell)
        return self.comm.allreduce(out, op=MPI.SUM) / self.anode_area

    def amounts(self) -> np.ndarray:
        """mol/m^2 of each species held in each region (regions, species)."""
        return self.per_region(self.amount_form)

    def row_charges(self) -> np.ndarray:
        """The charge each unit of a species' conservation law carries, per (region, species): what
        turns the ledger's amounts into currents. With a fixed pH, the mean charge of both forms at
        the region's pH; with a moving pH, the deprotonated form's charge for a weak electrolyte and
        +1 for H+, whose balance holds every proton the weak electrolytes carry (exact at any pH)."""
        if not self.moving_pH:
            return self.mean_charges()
        from iontosim.physics.ionization import WeakElectrolytes

        q = np.array([float(sp.charge) for sp in self.species])
        weak = self.find(WeakElectrolytes)
        if weak is not None:
            for i in weak.weak:
                q[i] = self.partner_charge[i] if weak.base[i] else float(self.species[i].charge)
        return np.repeat(q[None, :], len(self.regions), axis=0)

    def mean_charges(self) -> np.ndarray:
        """Mean charge number of each species, both forms, in each region (regions, species), at the
        region's own pH (with a moving pH: its starting one), computed once the terms have set up."""
        if self._mean_charges is None:
            z = np.array([float(sp.charge) for sp in self.species])
            rho = self.partner_ratio
            self._mean_charges = (z + self.partner_charge * rho) / (1.0 + rho)
        return self._mean_charges

    def region_rates(self, region: int, rates: np.ndarray) -> np.ndarray:
        """Per-species rates placed in one region: the (regions, species) shape of the ledger."""
        out = np.zeros((len(self.regions), self.ns))
        out[region] = rates
        return out

    # ------------------------------------------------------------------ state
    def boundary_conditions(self) -> list:
        return [bc for term in self.terms for bc in term.boundary_conditions(self)]

    def global_unknowns(self) -> list:
        return [g for g in (term.global_unknowns(self) for term in self.terms) if g is not None]

    def initial_state(self) -> None:
        """The composition of every region at t = 0, the potential from electroneutrality, then what
        the terms add (their scalar unknowns)."""
        from iontosim.model.compositions import initial_fields

        initial_fields(self)
        for term in self.terms:
            term.initial_state(self)
        self.u_previous.x.array[:] = self.u.x.array

    def step_weights(self) -> tuple[float, float, float]:
        """The weights (a0, a1, a2) of the time levels in the present step (solver/stepping.py)."""
        return tuple(float(c.value) for c in self.time_weights)  # type: ignore[return-value]

    def set_current(self, current_density: float) -> None:
        """Impose the donor electrode's current density [A/m^2, anodic positive] (terms follow it)."""
        self.current_density.value = current_density

    def ledger(self) -> Ledger:
        entries = [e for term in self.terms for e in term.ledger(self)]
        return Ledger(entries, (len(self.regions), self.ns))

    # ------------------------------------------------------------------ nodal views (per owned cell, per vertex)
    @property
    def psi_dofs(self) -> np.ndarray:
        return self._cell_dofs[self.ns]

    def nodal_mu(self) -> np.ndarray:
        """mu of every species at every (owned cell, vertex): shape (species, 2 * cells) in 1D."""
        return self.u.x.array[np.stack(self._cell_dofs[: self.ns])]

    def nodal_psi(self) -> np.ndarray:
        return self.u.x.array[self.psi_dofs]

    def nodal_ionized(self) -> np.ndarray:
        """Concentration of each species' ionized form at every (owned cell, vertex)."""
        n = self.nodal
        return n.partition * np.exp(self.nodal_mu() - n.charge * self.nodal_psi())

    def nodal_partner_ratio(self, ionized: np.ndarray | None = None) -> np.ndarray:
        """rho of each species at every (owned cell, vertex): the region's, or the local H+'s."""
        if self.nodal_ratio_of is None:
            return self.nodal.partner_ratio
        return self.nodal_ratio_of(self.nodal_ionized() if ionized is None else ionized)

    def nodal_totals(self) -> np.ndarray:
        """Total concentration [mol/m^3] of each species (both forms) at every (owned cell, vertex)."""
        ionized = self.nodal_ionized()
        return ionized * (1.0 + self.nodal_partner_ratio(ionized))

    def vertex_depths(self) -> np.ndarray:
        """Depth of every (owned cell, vertex)."""
        return self._depths

    def vertex_x(self) -> np.ndarray:
        """First coordinate of every (owned cell, vertex): lateral on a patch, the depth on the column."""
        return self._vertex_x

    def vertex_lateral(self) -> np.ndarray:
        """Largest lateral coordinate magnitude of every (owned cell, vertex); zeros on the column."""
        return self._lateral

    def on_axis_at(self, depth: float) -> np.ndarray:
        """The (owned cell, vertex) entries at `depth` on the donor electrode's centre line."""
        top, bottom = self.column.interfaces[0], self.column.interfaces[-1]
        tol = 1e-9 * (bottom - top)
        return np.isclose(self.vertex_depths(), depth, atol=tol) & (self.vertex_lateral() <= 1e-12)

    def probe(self, depth: float, gel_side: bool = False) -> int:
        """The (owned cell, vertex) entry at `depth` on the donor electrode's centre line (in the gel
        pad, at the skin surface, with `gel_side`); -1 where this rank holds none. The mesh does not
        move: found once."""
        key = (depth, gel_side)
        if key not in self._probes:
            mask = self.on_axis_at(depth) & ((self.nodal_layer == 0) if gel_side else True)
            hits = np.flatnonzero(mask)
            self._probes[key] = int(hits[0]) if len(hits) else -1
        return self._probes[key]

    def probed_field(self, entry: int, field: int) -> float:
        """The unknown `field` (a species' mu, or ns for psi) at a probed entry, from the rank that
        holds it (collective)."""
        value = self.u.x.array[self._cell_dofs[field][entry]] if entry >= 0 else -np.inf
        return self.comm.allreduce(value, op=MPI.MAX)

    def probed_concentration(self, entry: int, species: int) -> float:
        """The ionized form's concentration [mol/m^3] of `species` at a probed entry (collective)."""
        value = -np.inf
        if entry >= 0:
            mu, psi = (self.u.x.array[self._cell_dofs[f][entry]] for f in (species, self.ns))
            value = self.nodal.partition[species, entry] * np.exp(mu - self.nodal.charge[species, entry] * psi)
        return self.comm.allreduce(value, op=MPI.MAX)

    MAX_RISE = 10.0  # largest rise of ln(c) in one Newton update
    MAX_DROP = 5.0  # largest fall of ln(c) in one Newton update
    NEGLIGIBLE = 1e-6  # x concentration floor: below this a node's update is not judged
    #: Lowest ln(c / (mol/m^3)) a Newton iterate may reach: 1e-200 mol/m^3, fewer than one
    #: molecule in the volume of the Earth. Downstream of a strong field the exact discrete
    #: solution of a swept-out species can lie below e^-745, where exp() underflows to zero, its
    #: rows vanish and the LU fails; held here instead, it carries no mass (and is not judged).
    LN_LOWEST = math.log(1e-200)

    def limit_update(self, step: np.ndarray) -> float:
        """Damp each Newton update's rise of ln(c); potential shifts pass untouched.

        A linearized rise r of ln(c) means c -> c (1 + r) in the linear model, so ln(c) rises by
        ln(1 + r) instead of r: a nearly absent species next to a loaded cell (linear rise ~1e11
        on the first step) gets the concentration the influx asks for, not exp(1e11). For small
        r the two agree to O(r^2), which keeps Newton's quadratic convergence. A fall of ln(c) is
        the Newton step itself, at most MAX_DROP per iteration and never below LN_LOWEST.

        Returns the size of the update that convergence is judged on: the largest change of
        ln(c) and of the potential drop across a cell. A common shift of all mu_i and psi (the
        potential's gauge) changes neither, and round-off puts noise in it. Nodes where
        a species is far below the concentration floor, before or after the update (swept out
        by a strong field), do not count: their rows are so small that their updates are round-off.
        """
        dpsi = step[self.psi_dofs]
        psi = self.nodal_psi()
        z_nodal = self.nodal.charge
        ln_c = np.log(self.nodal.partition) + self.nodal_mu() - z_nodal * psi
        ln_negligible = math.log(self.NEGLIGIBLE * self.scenario.numerics.concentration_floor)
        largest = np.empty_like(step)
        size = 0.0
        for i in range(self.ns):
            dofs = self._cell_dofs[i]
            rise = step[dofs] - z_nodal[i] * dpsi
            largest[:] = -np.inf
            np.maximum.at(largest, dofs, rise)  # a node's rise: the largest over its cells
            r = largest[dofs]
            damped = np.where(
                r > 0.0, np.minimum(np.log1p(np.maximum(r, 0.0)), self.MAX_RISE), np.maximum(r, -self.MAX_DROP)
            )
            # a node's new ln(c): the largest over its cells (they differ by partition and Donnan jumps)
            largest[:] = -np.inf
            np.maximum.at(largest, dofs, ln_c[i] + rise + damped - r)
            lift = np.maximum(self.LN_LOWEST - largest[dofs], 0.0)
            step[dofs] += damped - r + lift
            change = np.abs(rise + damped - r + lift)
            relevant = np.maximum(ln_c[i], ln_c[i] + rise + damped - r + lift) > ln_negligible
            size = max(size, np.max(change[relevant], initial=0.0))
        # psi is judged by the change of its drop across each cell (what sets the field), not by
        # its level: the level of a region joined to the grounded deep tissue only through a
        # strongly upwinded stratum corneum is fixed to ~1e-3 thermal units at best, and shifting
        # it with all mu_i changes no concentration and no flux.
        per_cell = dpsi.reshape(len(self.layer_of_cell), -1)
        drop_change = np.ptp(per_cell, axis=1)
        return max(size, np.max(drop_change, initial=0.0))

    def thermal_voltage(self) -> float:
        return thermal_voltage(self.temperature)

    def region_tops(self) -> np.ndarray:
        """Depth (m) of the top of each region, by cell tag: the pads' above the skin, the
        appendage channels' at the skin surface."""
        n = len(self.scenario.skin) + 1
        tops = list(self.column.interfaces[:n])
        for region in self.regions[n:]:
            tops.append(-region.thickness if region.name == RETURN_PAD else 0.0)
        return np.asarray(tops)


def assembled_vector(form) -> np.ndarray:
    """The local (owned and ghost) entries of the vector `form` assembles, ghost contributions summed."""
    vec = fem.assemble_vector(form)
    vec.scatter_reverse(dolfinx.la.InsertMode.add)
    return vec.array


def assembled_sum(forms: Sequence[Any]) -> np.ndarray:
    """The sum of the `assembled_vector`s of `forms`: the parts of one vector that differ in
    quadrature (physics/transport.py NernstPlanck.cell_integrals)."""
    return np.sum([assembled_vector(form) for form in forms], axis=0)
