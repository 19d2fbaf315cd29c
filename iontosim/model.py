"""The discrete model of one scenario: mesh, unknowns, coefficients and the composed residual.

Each physical term lives in iontosim.physics; this module only decides which terms a scenario
switches on and sums them. Unknowns (mixed space): mu_i (P1, continuous) for every species and
psi (DG1, jumps at layer interfaces). Every coefficient is a cell-wise (DG0) field, so scenarios
with the same species count and the same switched-on terms share one compiled form.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from iontosim._fenics import MPI, dolfinx, ufl
from iontosim.library.species import Species
from iontosim.mesh.column import DEEP, ELECTRODE, LayerGeometry, build_column
from iontosim.mesh.skin_mesh import RETURN
from iontosim.physics import clearance, electrodes, electroneutrality, electroosmosis, ionization, transport, water
from iontosim.physics.constants import thermal_voltage
from iontosim.physics.fixed_charge import fixed_charge

fem = dolfinx.fem

WATER_VISCOSITY_37C = 0.692e-3  # Pa s (model_parameters.yaml meta, estimate tag)


@dataclass(frozen=True)
class LayerData:
    """Resolved per-layer coefficients (SI); index 0 is the donor."""

    name: str
    thickness: float
    pH: float
    porosity: float
    fixed_charge: float  # mol/m^3 of pore fluid, signed
    clearance_rate: float  # 1/s
    partition: tuple[float, ...]  # per species
    diffusivity: tuple[float, ...]  # m^2/s, effective, per species
    charge: tuple[float, ...]  # charge number of each species' ionized form
    partner_ratio: tuple[float, ...]  # c(partner form) / c(ionized form) at the layer's pH, per species
    partner_charge: tuple[float, ...]  # charge number of the partner (conjugate) form, per species
    retardation: tuple[float, ...]  # 1 / (1 - bound fraction): tissue amount per free amount, per species
    kappa_over_mu: float  # m^2/(Pa s), electroosmotic coefficient (0 if uncharged)
    buffer: tuple[float, float, float] = (0.0, 1.0, 0.0)  # immobile buffer: total [mol/m^3], Ka [mol/m^3], acid charge

    def buffer_charge(self, c_h: float) -> float:
        """Charge density [mol/m^3] of the layer's buffer at H+ concentration c_h (physics/water.py)."""
        total, ka, z_acid = self.buffer
        return water.buffer_charge(c_h, total, ka, z_acid)

    def charge_per_total(self, i: int) -> float:
        """Mean charge number of species i (both forms) at this layer's pH."""
        rho = self.partner_ratio[i]
        return (self.charge[i] + self.partner_charge[i] * rho) / (1.0 + rho)


class ColumnModel:
    """Layered skin under a donor gel, built on communicator `comm`: the 1D column under the anode,
    or a given mesh (`skin_mesh`, iontosim.mesh.skin_mesh) with the same tags, which may add a
    return electrode's pad and appendage channels. On a mesh of more than one dimension the flux
    is the lumped one (the fitted flux is 1D), quantities per area are per area of the anode, and
    electroosmosis is a Darcy solve where the patch is not laterally uniform."""

    def __init__(self, scenario, comm: MPI.Comm, skin_mesh=None):
        self._given_mesh = skin_mesh
        self.scenario = scenario
        self.comm = comm
        self.species: list[Species] = scenario.species_objects()
        self.names = [s.name for s in self.species]
        self.ns = len(self.species)
        self.temperature = scenario.temperature
        self.layers = self._resolve_layers()
        self.drug_index = self.names.index(scenario.drug)
        self._build_mesh()
        self._build_spaces_and_coefficients()
        self._build_forms()

    # ------------------------------------------------------------------ coefficients
    def _acid_base(self, sp: Species, pH: float) -> dict:
        """Per-layer acid-base data of a species (ionization.py): the layer's pH is buffered."""
        weak = self.scenario.ionization == "weak_electrolyte" and sp.pKa is not None
        return {"charge": float(sp.charge),
                "partner_ratio": ionization.partner_ratio(pH, sp.pKa, sp.acid_base) if weak else 0.0,
                "partner_charge": float(ionization.partner_charge(sp.charge, sp.acid_base if weak else None))}

    def _acid_base_tuples(self, pH: float) -> dict:
        per_species = [self._acid_base(sp, pH) for sp in self.species]
        return {key: tuple(d[key] for d in per_species) for key in per_species[0]}

    @property
    def weak(self) -> list[int]:
        """Indices of species transported as weak electrolytes (with a conjugate partner form)."""
        if self.scenario.ionization != "weak_electrolyte":
            return []
        return [i for i, sp in enumerate(self.species) if sp.pKa is not None]

    def protonated_fraction(self, i: int, layer: LayerData) -> float:
        """Fraction of species i in its protonated form in `layer` (0 for strong electrolytes)."""
        if i not in self.weak:
            return 0.0
        rho = layer.partner_ratio[i]
        return 1.0 / (1.0 + rho) if self.species[i].acid_base == "base" else rho / (1.0 + rho)

    def region_names(self) -> list[str]:
        """Name of each region, by cell tag: "donor", the skin layers top first, then on a mesh that
        has them "return_electrode" (the return pad) and "appendages" (channels through the top layer)."""
        if self._given_mesh is None:
            return ["donor"] + [layer.name for layer in self.scenario.skin]
        regions = self._given_mesh.regions
        if sorted(regions) != list(range(len(regions))):
            raise ValueError(f"mesh region tags must be 0..{len(regions) - 1}, got {sorted(regions)}")
        return [regions[tag] for tag in range(len(regions))]

    def _resolve_layers(self) -> list[LayerData]:
        """Coefficients of every region, indexed by cell tag."""
        sc = self.scenario
        skin = {layer.name: layer for layer in sc.skin}
        names = self.region_names()
        if names[: len(sc.skin) + 1] != ["donor"] + list(skin):
            raise ValueError("the mesh's regions do not match the scenario's donor and skin layers: "
                             f"{names} against {['donor'] + list(skin)}")
        resolved = []
        for name in names:
            if name == "donor":
                resolved.append(self._pad_layer(sc.donor, name))
            elif name == "return_electrode":
                if sc.return_electrode is None:
                    raise ValueError("the mesh has a return-electrode pad: the scenario needs a return_electrode section")
                resolved.append(self._pad_layer(sc.return_electrode, name))
            elif name == "appendages":
                resolved.append(self._skin_layer(sc.appendage_layer()))
            else:
                resolved.append(self._skin_layer(skin[name]))
        return resolved

    def _pad_layer(self, pad, name: str) -> LayerData:
        """An electrode's gel pad: free solution at its pH, no fixed charge, no clearance."""
        d_aq = [sp.diffusivity(self.temperature) for sp in self.species]
        return LayerData(
            name=name, thickness=pad.thickness, pH=pad.pH, porosity=1.0, fixed_charge=0.0,
            clearance_rate=0.0, partition=tuple(1.0 for _ in self.species),
            diffusivity=tuple(pad.diffusivity_factor * d for d in d_aq),
            **self._acid_base_tuples(pad.pH), retardation=tuple(1.0 for _ in self.species), kappa_over_mu=0.0,
            buffer=self._buffer(pad.buffer))

    def _skin_layer(self, layer) -> LayerData:
        T = self.temperature
        d_aq = [sp.diffusivity(T) for sp in self.species]
        definitions = [self.scenario.definition_of(n) for n in self.names]  # user species carry partition and binding
        hindrance = [1.0] * self.ns
        if layer.pore_radius is not None:
            hindrance = [transport.renkin_hindrance(
                transport.stokes_radius(d, T, WATER_VISCOSITY_37C), layer.pore_radius) for d in d_aq]
        x = 0.0
        kappa = 0.0
        if layer.fixed_charge is not None:
            fc = layer.fixed_charge
            x = fixed_charge(layer.pH, fc.isoelectric_point, fc.charge_at_reference_pH, fc.reference_pH)
            if self.scenario.electroosmosis is not None:
                kappa = self._calibrate_electroosmosis(layer, hindrance, d_aq)
        return LayerData(
            name=layer.name, thickness=layer.thickness, pH=layer.pH, porosity=layer.porosity,
            fixed_charge=x, clearance_rate=layer.clearance_rate,
            partition=tuple(layer.partition_of(n, d.partition if d else 1.0) for n, d in zip(self.names, definitions)),
            retardation=tuple(1.0 / (1.0 - d.binding) if d else 1.0 for d in definitions),
            buffer=self._buffer(layer.buffer),
            diffusivity=tuple(layer.diffusivity_factor * h * d for h, d in zip(hindrance, d_aq)),
            **self._acid_base_tuples(layer.pH), kappa_over_mu=kappa)

    def region_tops(self) -> np.ndarray:
        """Depth (m) of the top of each region, by cell tag: the pads' above the skin, the
        appendage channels' at the skin surface."""
        n = len(self.scenario.skin) + 1
        tops = list(self.column.interfaces[:n])
        for layer in self.layers[n:]:
            tops.append(-layer.thickness if layer.name == "return_electrode" else 0.0)
        return np.asarray(tops)

    @property
    def deepest(self) -> int:
        """Index (cell tag) of the deepest skin layer, the one on the deep boundary."""
        return len(self.scenario.skin)

    @staticmethod
    def _buffer(spec) -> tuple[float, float, float]:
        if spec is None:
            return (0.0, 1.0, 0.0)
        return (spec.concentration, water.acid_constant(spec.pKa), float(spec.acid_charge))

    def _calibrate_electroosmosis(self, layer, hindrance, d_aq) -> float:
        eo = self.scenario.electroosmosis
        fc = layer.fixed_charge
        try:
            na, cl = self.names.index("Na+"), self.names.index("Cl-")
        except ValueError as err:
            raise ValueError("electroosmosis is calibrated on NaCl: species Na+ and Cl- are needed") from err
        x_ref = fixed_charge(eo.reference_pH, fc.isoelectric_point, fc.charge_at_reference_pH, fc.reference_pH)
        sigma = electroosmosis.reference_conductivity(
            x_ref, eo.reference_salt,
            layer.diffusivity_factor * hindrance[na] * d_aq[na],
            layer.diffusivity_factor * hindrance[cl] * d_aq[cl], self.temperature)
        return electroosmosis.hydraulic_coefficient(eo.volume_per_charge, sigma, x_ref)

    # ------------------------------------------------------------------ mesh
    def _build_mesh(self) -> None:
        if self._given_mesh is not None:
            self.column = self._given_mesh
            self.mesh = self.column.mesh
            return
        sc = self.scenario
        num = sc.numerics
        r = num.refinement
        geo = [LayerGeometry("donor", sc.donor.thickness,
                             max(1, round((sc.donor.cells or num.donor_cells) * r)),
                             grading=1.0 / 8.0)]  # fine next to the skin surface
        for layer in sc.skin:
            geo.append(LayerGeometry(layer.name, layer.thickness,
                                     max(1, round((layer.cells or num.default_cells) * r)), layer.grading))
        self.column = build_column(self.comm, geo, top=-sc.donor.thickness)
        self.mesh = self.column.mesh

    # ------------------------------------------------------------------ spaces
    def _build_spaces_and_coefficients(self) -> None:
        import basix.ufl

        mesh = self.mesh
        p1 = basix.ufl.element("Lagrange", mesh.basix_cell(), 1)
        dg1 = basix.ufl.element("DG", mesh.basix_cell(), 1)
        self.W = fem.functionspace(mesh, basix.ufl.mixed_element([p1] * self.ns + [dg1]))
        self.u = fem.Function(self.W, name="state")
        self.u_previous = fem.Function(self.W, name="previous_state")
        self.maps = [np.asarray(self.W.sub(i).collapse()[1]).ravel() for i in range(self.ns + 1)]

        dg0 = fem.functionspace(mesh, ("DG", 0))
        self.dg0 = dg0
        tags = self.column.cell_tags
        n_local = mesh.topology.index_map(mesh.topology.dim).size_local
        layer_of_cell = np.empty(n_local, dtype=np.int32)
        owned = tags.indices < n_local  # a mesh ghosted across facets also tags its ghost cells
        layer_of_cell[tags.indices[owned]] = tags.values[owned]
        self.layer_of_cell = layer_of_cell
        # Nodal views (per owned cell, per vertex), fixed for the run: building them from the
        # dofmap on every Newton iteration cost more than the assembly itself.
        self._cell_dofs = [self.W.sub(i).dofmap.list[:n_local].ravel() for i in range(self.ns + 1)]
        self.nodal_layer = lay = np.repeat(layer_of_cell, self.W.sub(0).dofmap.list.shape[1])
        L = self.layers

        def nodal(attribute: str) -> np.ndarray:  # (species, node) array of a per-layer, per-species value
            return np.array([getattr(layer, attribute) for layer in L]).T[:, lay]

        self._nodal_K, self._nodal_z = nodal("partition"), nodal("charge")
        self._nodal_rho, self._nodal_zp = nodal("partner_ratio"), nodal("partner_charge")
        self.nodal_retardation = nodal("retardation")
        self._nodal_X = np.array([layer.fixed_charge for layer in L])[lay]
        geo = mesh.geometry
        dofmap = geo.dofmaps[0] if hasattr(geo, "dofmaps") else geo.dofmap  # 0.11 / 0.10
        x = geo.x[dofmap[:n_local].ravel(), : mesh.topology.dim]
        self._depths = x[:, -1].copy()  # the last coordinate is the depth
        self._lateral = np.max(np.abs(x[:, :-1]), axis=1, initial=0.0)
        self._vertex_x = x[:, 0].copy()  # first lateral coordinate (the depth on the column)

        def cellwise(values, name):
            f = fem.Function(dg0, name=name)
            f.x.array[:n_local] = np.asarray(values)[layer_of_cell]
            f.x.scatter_forward()
            return f

        self.porosity = cellwise([layer.porosity for layer in L], "porosity")
        self.fixed = cellwise([layer.fixed_charge for layer in L], "fixed_charge")
        self.clearance_rate = cellwise([layer.clearance_rate for layer in L], "clearance_rate")
        self.partition = [cellwise([layer.partition[i] for layer in L], f"K_{i}") for i in range(self.ns)]
        self.diffusivity = [cellwise([layer.diffusivity[i] for layer in L], f"D_{i}") for i in range(self.ns)]
        self.charge = [cellwise([layer.charge[i] for layer in L], f"z_{i}") for i in range(self.ns)]
        # weak electrolytes only: strong ones get no partner terms (and no extra compiled terms)
        self.partner_ratio = {i: cellwise([layer.partner_ratio[i] for layer in L], f"rho_{i}") for i in self.weak}
        # tissue binding (fast, linear, immobile): only species that bind get the extra factor
        # immobile buffers, only where some layer has one and H+ is transported
        self.has_buffer = "H+" in self.names and any(layer.buffer[0] > 0 for layer in L)
        if self.has_buffer:
            self.buffer_fields = tuple(cellwise([layer.buffer[k] for layer in L], name)
                                       for k, name in enumerate(("buffer_total", "buffer_Ka", "buffer_acid_charge")))
        h = self.names.index("H+") if "H+" in self.names else None
        # the buffers' charge at each layer's own pH: a starting guess for the nodal potential
        self._nodal_buffer_charge = np.array([layer.buffer_charge(water.neutral_pair(layer.pH)[0])
                                              for layer in L])[lay] if h is not None else np.zeros(len(lay))
        self.retardation = {i: cellwise([layer.retardation[i] for layer in L], f"R_{i}")
                            for i in range(self.ns) if any(layer.retardation[i] != 1.0 for layer in L)}

        self.dt = fem.Constant(mesh, 1e-3)
        self.current_density = fem.Constant(mesh, 0.0)  # A/m^2, positive: anodic (into the skin)
        # on a patch with a return electrode: its current density, so that the two carry the same current
        self.return_current_density = fem.Constant(mesh, 0.0)
        self.depth_axis = mesh.topology.dim - 1  # the last coordinate is the depth, positive into the skin
        geometry = getattr(self.column, "geometry", None)
        self.geometry = geometry
        boundaries = getattr(self.column, "boundaries", {})
        self.has_return = RETURN in boundaries and geometry is not None and not geometry.laterally_uniform
        # Electroosmosis: the column's uniform flow where the patch is laterally uniform (exact
        # there), a Darcy pressure solve where current spreads sideways or takes appendage
        # channels (solver/darcy.py).
        channels = geometry is not None and geometry.appendages is not None
        self.flow_model = "darcy" if self.has_return or channels else "column"
        if self.flow_model == "darcy":
            self.velocity = fem.Function(fem.functionspace(mesh, ("DG", 0, (mesh.geometry.dim,))), name="velocity")
        else:
            self.velocity = fem.Constant(mesh, np.zeros(mesh.geometry.dim))  # m/s, electroosmotic, into the skin
        # Axisymmetric patches integrate with 2 pi r, r taken at each cell's centroid (a DG0
        # field): with a pointwise r, vertex quadrature would give the nodes on the axis no volume
        # and their electroneutrality rows would vanish. For the rectangular cells of the mesher
        # the centroid rule is exact for every cell's volume and every facet's area.
        self.weight = None
        if geometry is not None and geometry.kind == "axisymmetric":
            self.weight = fem.Function(dg0, name="2_pi_r")
            self.weight.interpolate(lambda x: 2.0 * np.pi * x[0])
            self.weight.x.scatter_forward()
        gdim = mesh.geometry.dim
        centroid = fem.Function(fem.functionspace(mesh, ("DG", 0, (gdim,))))
        centroid.interpolate(lambda x: x[:gdim])
        #: lateral coordinates (m) of each owned cell's centroid, shape (cells, gdim - 1)
        self.cell_lateral_coordinates = centroid.x.array.reshape(-1, gdim)[:n_local, :-1].copy()
        # the top skin layer (the stratum corneum and the appendage channels through it), and
        # its row of cells on the skin surface: where the current enters the skin
        names = self.region_names()
        appendage = names.index("appendages") if "appendages" in names else -1
        self.appendage_cells = layer_of_cell == appendage
        self.top_layer_cells = (layer_of_cell == 1) | self.appendage_cells
        shallowest = np.abs(self._depths.reshape(n_local, -1)).min(axis=1)
        self.surface_row_cells = self.top_layer_cells & (shallowest <= 1e-9 * self.layers[1].thickness)

    def weighted(self, form):
        """`form` with the patch's measure: 2 pi r dx on axisymmetric patches, itself otherwise."""
        if self.weight is None:
            return form
        from ufl.algorithms.map_integrands import map_integrands

        return map_integrands(lambda integrand: self.weight * integrand, form)

    def _compiled(self, form):
        return fem.form(self.weighted(form))

    def set_current(self, current_density: float) -> None:
        """Impose the donor electrode's current density [A/m^2, anodic positive]; a meshed return
        electrode takes the same current back (its density scaled by the area ratio)."""
        self.current_density.value = current_density
        if self.has_return:
            self.return_current_density.value = -current_density * self.anode_area / self.return_area

    # ------------------------------------------------------------------ forms
    def concentrations(self, u):
        parts = ufl.split(u)
        psi = parts[self.ns]
        return [transport.concentration(parts[i], psi, self.partition[i], self.charge[i]) for i in range(self.ns)]

    def totals(self, c):
        """Total concentration of each species (ionized form plus its partner) from the ionized forms."""
        return [c[i] * (1.0 + self.partner_ratio[i]) if i in self.partner_ratio else c[i] for i in range(self.ns)]

    def held(self, i: int, free):
        """Free plus bound concentration of species i (per pore volume) from its free total."""
        return self.retardation[i] * free if i in self.retardation else free

    def held_totals(self, c):
        """What each species has in a unit of pore volume, from its ionized forms `c`: both forms,
        bound drug, and for H+ the protons its buffers hold. Storage and reported amounts use it."""
        held = [self.held(i, total) for i, total in enumerate(self.totals(c))]
        if self.has_buffer:
            h = self.names.index("H+")
            held[h] = held[h] + water.bound_protons(c[h], *self.buffer_fields[:2])
        return held

    def partner_charge(self, i: int) -> float:
        return self.layers[0].partner_charge[i]  # a property of the species, the same in every layer

    def _cleared_species(self) -> list[int]:
        return [i for i, sp in enumerate(self.species) if sp.role == "drug"]

    def clearance_rate_field(self, c):
        """Local capillary clearance rate [1/s] including vasoconstriction."""
        rule = self.scenario.clearance
        rate = self.clearance_rate
        if rule.vasoconstrictor is not None and rule.max_effect > 0:
            cv = self.totals(c)[self.names.index(rule.vasoconstrictor)]
            rate = rate * clearance.vasoconstriction_factor(cv, rule.max_effect, rule.EC50, rule.hill)
        return rate

    @property
    def has_water(self) -> bool:
        """H+ and OH- are both transported: they recombine (physics/water.py)."""
        return "H+" in self.names and "OH-" in self.names

    def reaction_rates(self, c):
        """Per-species consumption by reactions in the pore fluid [mol/m^3/s]: water recombination."""
        rates = [None] * self.ns
        if self.has_water:
            h, oh = self.names.index("H+"), self.names.index("OH-")
            rates[h] = rates[oh] = water.recombination(c[h], c[oh])
        return rates

    def sink_rates(self, c):
        """Per-species first-order sink densities [mol/m^3/s] (positive = removed)."""
        rule = self.scenario.clearance
        k = self.clearance_rate_field(c)
        rates = [None] * self.ns
        cleared = self._cleared_species()
        total = self.totals(c)
        for i in cleared:
            rates[i] = k * self.porosity * total[i]
        if rule.counter_ion is not None and cleared:
            j = self.names.index(rule.counter_ion)
            # neutral sink: the counter-ion leaves with the charge the drug's two forms carry
            charge_removed = sum(self.charge[i] * k * self.porosity * c[i] for i in cleared)
            charge_removed += sum(self.partner_charge(i) * k * self.porosity * self.partner_ratio[i] * c[i]
                                  for i in cleared if i in self.partner_ratio)
            rates[j] = -charge_removed / self.species[j].charge
        return rates

    def _build_forms(self) -> None:
        dxv = ufl.Measure("dx", domain=self.mesh, metadata=transport.VERTEX_QUADRATURE,
                          subdomain_data=self.column.cell_tags)
        ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=self.column.facet_tags)
        self.dx = dxv
        dxm = ufl.Measure("dx", domain=self.mesh, metadata=transport.MIDPOINT_QUADRATURE,
                          subdomain_data=self.column.cell_tags)
        u, un = self.u, self.u_previous
        parts = ufl.split(u)
        mu, psi = parts[: self.ns], parts[self.ns]
        tests = ufl.TestFunctions(self.W)
        c = self.concentrations(u)
        c_prev = self.concentrations(un)
        has_flow = any(layer.kappa_over_mu > 0 for layer in self.layers)
        # the fitted flux is 1D: on a larger mesh the lumped flux is used
        fitted = self.scenario.numerics.flux == "fitted" and self.mesh.topology.dim == 1
        self.flux_used = "fitted" if fitted else "lumped"
        total = self.totals(c)
        held, held_prev = self.held_totals(c), self.held_totals(c_prev)
        sink_rates, reaction_rates = self.sink_rates(c), self.reaction_rates(c)
        # Each transported form: (concentration, electrochemical potential, partition, charge, species).
        # A weak electrolyte's partner form (ionization.py) has c_p = rho c and potential
        # ln(c_p) + z_p psi = mu - (z - z_p) psi + ln(rho K): it moves by its own charge.
        forms = [(c[i], mu[i], self.partition[i], self.charge[i], i) for i in range(self.ns)]
        for i, rho in self.partner_ratio.items():
            zp = self.partner_charge(i)
            forms.append((rho * c[i], mu[i] - (self.charge[i] - zp) * psi, rho * self.partition[i], zp, i))
        self.transported_forms = forms  # read by the field outputs (current density)
        F, F_fitted = 0, 0
        for i in range(self.ns):
            F += transport.storage(held[i], held_prev[i], self.porosity, self.dt, tests[i], dxv)
            if has_flow:
                F += transport.convection(total[i], self.velocity, tests[i], dxv)
        for ci, mui, Ki, zi, i in forms:
            if fitted:
                F_fitted += transport.fitted_electrodiffusion(mui, psi, Ki, zi, self.diffusivity[i], tests[i], dxm)
            else:
                F += transport.electrodiffusion(ci, mui, self.diffusivity[i], tests[i], dxv)
        for i, rate in enumerate(sink_rates):
            if rate is not None:
                F += rate * tests[i] * dxv
        fixed = self.fixed
        if self.has_buffer:
            fixed = fixed + water.buffer_charge(c[self.names.index("H+")], *self.buffer_fields)
        # bound drug is immobile but keeps its charge: it acts as extra fixed charge
        for ci, _, _, zi, i in forms:
            if i in self.retardation:
                fixed = fixed + (self.retardation[i] - 1.0) * zi * ci
        F += electroneutrality.residual([f[0] for f in forms], [f[3] for f in forms], fixed,
                                        tests[self.ns], dxv)
        for i, rate in enumerate(reaction_rates):
            if rate is not None:
                F += self.porosity * rate * tests[i] * dxv
        by_name = {n: tests[i] for i, n in enumerate(self.names)}
        F += electrodes.boundary_terms(self.scenario.donor.electrode, self.current_density, by_name, ds(ELECTRODE))
        if self.has_return:
            if self.scenario.return_electrode is None:
                raise ValueError("the mesh has a return electrode: the scenario needs a return_electrode section")
            F += electrodes.boundary_terms(self.scenario.return_electrode.electrode, self.return_current_density,
                                           by_name, ds(RETURN))
        # The fitted (midpoint) flux is a form of its own, assembled after the lumped (vertex)
        # terms: compiled together, the Jacobian's lumped terms were evaluated at the midpoint
        # (found by a finite-difference check of the Jacobian).
        parts = [F, F_fitted] if fitted else [F]
        self.residual = [self._compiled(G) for G in parts]
        self.jacobian = [self._compiled(ufl.derivative(G, u)) for G in parts]

        # Diagnostics: per-cell amounts and sinks (DG0 vectors), per-cell EO drive.
        V = fem.functionspace(self.mesh, ("DG", 0, (self.ns,)))
        w = ufl.TestFunction(V)
        amount = sum(self.porosity * held[i] * w[i] for i in range(self.ns)) * dxv
        self.amount_form = self._compiled(amount)
        sinks = [rate * w[i] for i, rate in enumerate(sink_rates) if rate is not None]
        self.sink_form = self._compiled(sum(sinks) * dxv) if sinks else None
        reactions = [self.porosity * rate * w[i] for i, rate in enumerate(reaction_rates) if rate is not None]
        self.reaction_form = self._compiled(sum(reactions) * dxv) if reactions else None
        # Protons held by weak electrolytes (the base's ionized form, the acid's partner form):
        # their change beyond transport is what the layers' buffers took up (simulation.py).
        protons = [self.held(i, c[i] if self.species[i].acid_base == "base" else self.partner_ratio[i] * c[i])
                   if i in self.partner_ratio else 0 for i in range(self.ns)]  # bound drug keeps its protons
        self.proton_form = (self._compiled(sum(self.porosity * protons[i] * w[i] for i in range(self.ns)) * dxv)
                            if self.partner_ratio else None)
        q = ufl.TestFunction(self.dg0)
        self.drive_form = (self._compiled(self.fixed * psi.dx(self.depth_axis) * q * ufl.dx)
                           if has_flow and self.flow_model == "column" else None)
        # quantities per area are per area of the anode (1 for the column's point electrode)
        self.anode_area = self._area(ds(ELECTRODE))
        self.return_area = self._area(ds(RETURN)) if self.has_return else 0.0
        self.has_flow = has_flow
        self.darcy = self._darcy(psi) if has_flow and self.flow_model == "darcy" else None
        if self.mesh.topology.dim > 1:  # the 1D column compiles none of these
            self._build_patch_forms(mu, ds, dxv)

    def _build_patch_forms(self, mu, ds, dxv) -> None:
        q = ufl.TestFunction(self.dg0)
        self.cell_volume_form = self._compiled(q * ufl.dx)  # per cell, m^3 (2 pi r weighted when axisymmetric)
        # Electrode potentials: the mean electrochemical potential of each electrode's ion over it
        e_ion = self.names.index(electrodes.POTENTIAL_ION[self.scenario.donor.electrode])
        self.anode_potential_form = self._compiled(mu[e_ion] * ds(ELECTRODE))
        self.return_potential_form = None
        if self.has_return:
            r_ion = self.names.index(electrodes.POTENTIAL_ION[self.scenario.return_electrode.electrode])
            self.return_potential_form = self._compiled(mu[r_ion] * ds(RETURN))
        # Current and drug flux across the top skin layer, per cell (depth components): where the
        # current crosses the stratum corneum, and how much of it through appendages.
        crossing = ufl.TestFunction(fem.functionspace(self.mesh, ("DG", 0, (2,))))
        i_depth = self.current_density_vector()[self.depth_axis]
        j_depth = self.flux_vectors()[self.drug_index][self.depth_axis]
        self.crossing_form = self._compiled((i_depth * crossing[0] + j_depth * crossing[1]) * dxv)
        self._cell_volumes: np.ndarray | None = None

    def cell_crossing(self) -> tuple[np.ndarray, np.ndarray]:
        """Per owned cell of a 2D/3D patch: the integrals of the depth components of the current
        density [A m] and of the drug's flux [mol m/s] (rows of two; x 2 pi r on axisymmetric
        discs), and the cell volumes [m^3] they divide into for the cell means. The one definition
        of the local current that the run's peak, the surface-current plot and the appendage
        shares all use."""
        n = len(self.layer_of_cell)
        if self._cell_volumes is None:  # the mesh does not move: once per model
            self._cell_volumes = assembled_vector(self.cell_volume_form)[:n].copy()
        return assembled_vector(self.crossing_form)[: 2 * n].reshape(n, 2), self._cell_volumes

    def _area(self, measure) -> float:
        return self.comm.allreduce(fem.assemble_scalar(self._compiled(1.0 * measure)), op=MPI.SUM)

    def hydraulic_permeability(self) -> fem.Function:
        """kappa/mu per cell [m^2/(Pa s)]: calibrated in charged layers; pads, uncharged layers and
        open channels offer no hydraulic resistance (physics/electroosmosis.py)."""
        charged = [layer.kappa_over_mu for layer in self.layers if layer.kappa_over_mu > 0]
        open_k = electroosmosis.OPEN_PERMEABILITY_FACTOR * max(charged)
        n_local = len(self.layer_of_cell)
        k = fem.Function(self.dg0, name="hydraulic_permeability")
        k.x.array[:n_local] = np.array([layer.kappa_over_mu or open_k for layer in self.layers])[self.layer_of_cell]
        k.x.scatter_forward()
        return k

    def _darcy(self, psi):
        from iontosim.solver.darcy import DarcyFlow

        return DarcyFlow(self.velocity, self.hydraulic_permeability(), self.fixed, psi, self.thermal_voltage(),
                         self.column.facet_tags, (ELECTRODE, RETURN, DEEP), self.weighted)

    def _form_flux(self, c, mu, i):
        """Flux density [mol/m^2/s] of one transported form of species i: -D c grad(mu) + c v."""
        J = -self.diffusivity[i] * c * ufl.grad(mu)
        return J + c * self.velocity if self.has_flow else J

    def flux_vectors(self):
        """Molar flux density J [mol/m^2/s] of each species (both forms)."""
        fluxes = [0 for _ in range(self.ns)]
        for ci, mui, _, _, i in self.transported_forms:
            fluxes[i] = fluxes[i] + self._form_flux(ci, mui, i)
        return fluxes

    def current_density_vector(self):
        """Current density [A/m^2]: F times the charge each transported form carries."""
        from iontosim.physics.constants import FARADAY

        return FARADAY * sum(zi * self._form_flux(ci, mui, i) for ci, mui, _, zi, i in self.transported_forms)

    # ------------------------------------------------------------------ boundary and initial data
    def body_fluid(self) -> np.ndarray:
        """Interstitial fluid [mol/m^3, ionized forms], balanced, with the drug at the floor."""
        sc = self.scenario
        return self._balanced(sc.interstitial_fluid.concentrations, sc.interstitial_fluid.balance_with,
                              self.layers[self.deepest])

    def donor_fluid(self) -> np.ndarray:
        """Donor gel [mol/m^3, ionized forms] at its pH, balanced."""
        d = self.scenario.donor
        return self._balanced(d.concentrations(self.scenario.species_by_name), d.balance_with, self.layers[0])

    def _balanced(self, given: dict, balance_with: str | None, layer: LayerData) -> np.ndarray:
        floor = self.scenario.numerics.concentration_floor
        c = np.array([given.get(n, 0.0) for n in self.names], dtype=float)  # totals
        if self.has_water:  # H+ and OH- from the fluid's pH, unless given
            pair = water.neutral_pair(layer.pH)
            for name, value in zip(("H+", "OH-"), pair):
                c[self.names.index(name)] = given.get(name, value)
        q = [layer.charge_per_total(i) for i in range(self.ns)]
        buffer = layer.buffer_charge(c[self.names.index("H+")]) if "H+" in self.names else 0.0
        if balance_with is not None:
            j = self.names.index(balance_with)
            others = sum(q[i] * c[i] for i in range(self.ns) if i != j) + buffer
            c[j] = -others / q[j]
            if c[j] < 0:
                raise ValueError(f"{balance_with} cannot balance this composition (it would be negative)")
        total = np.maximum(c, floor)
        return total / (1.0 + np.array(layer.partner_ratio))  # ionized forms

    def boundary_conditions(self):
        """Deep tissue: interstitial composition at ground potential (psi = 0)."""
        fdim = self.mesh.topology.dim - 1
        deep = self.column.facet_tags.find(DEEP)
        body = self.body_fluid()
        bottom = self.layers[self.deepest]
        bcs = []
        self.deep_dofs = []  # per species: the Dirichlet dofs in the mixed numbering
        for i in range(self.ns):
            Vi, _ = self.W.sub(i).collapse()
            dofs = fem.locate_dofs_topological((self.W.sub(i), Vi), fdim, deep)
            g = fem.Function(Vi)
            g.x.array[:] = math.log(body[i] / bottom.partition[i])
            bcs.append(fem.dirichletbc(g, dofs, self.W.sub(i)))
            self.deep_dofs.append(dofs[0])
        return bcs

    def initial_state(self) -> None:
        """Donor gel at its composition over skin equilibrated with interstitial fluid; psi from electroneutrality."""
        donor, body = self.donor_fluid(), self.body_fluid()
        pad = self.return_fluid() if "return_electrode" in self.region_names() else body
        for i in range(self.ns):
            Vi, _ = self.W.sub(i).collapse()
            f = fem.Function(Vi)
            values = np.log([body[i], donor[i], pad[i]])
            f.interpolate(lambda x, values=values: values[self._initial_region(x)])
            self.u.x.array[self.maps[i]] = f.x.array
        self.u.x.scatter_forward()
        self.update_potential()
        self.u_previous.x.array[:] = self.u.x.array

    def return_fluid(self) -> np.ndarray:
        """The return electrode's pad [mol/m^3, ionized forms] at its pH, balanced."""
        pad = self.scenario.return_electrode
        return self._balanced(pad.concentrations(self.scenario.species_by_name), pad.balance_with,
                              self.layers[self.region_names().index("return_electrode")])

    def _initial_region(self, x: np.ndarray) -> np.ndarray:
        """0: skin, 1: donor pad, 2: return pad, for points `x` (3, n). The skin surface under a pad
        (depth 0; meshers leave it at +-1e-20) takes the pad's value, as the 1D column does."""
        above = x[self.depth_axis] <= 1e-9 * self.scenario.donor.thickness
        geo = self.geometry
        if geo is None or geo.kind == "column" or geo.laterally_uniform:
            return above.astype(int)
        anode, inner, outer = geo.edges
        tol = 1e-9 * geo.width
        beside = np.ones_like(above) if geo.kind != "block" else x[1] <= anode + tol  # y within the electrodes
        under_anode = above & beside & (x[0] <= anode + tol)
        under_return = above & beside & (x[0] >= inner - tol) & (x[0] <= outer + tol)
        return np.where(under_anode, 1, np.where(under_return, 2, 0))

    def update_potential(self) -> None:
        """Set psi pointwise from electroneutrality with the current mu (local, no solve)."""
        mu, K, z, X = self.nodal_fields()
        psi = electroneutrality.solve_potential(mu, K, z, X + self._nodal_buffer_charge,
                                                charge_per_ion=self.nodal_retardation * (z + self._nodal_zp * self._nodal_rho))
        self.u.x.array[self.psi_dofs] = psi
        self.u.x.scatter_forward()

    # ------------------------------------------------------------------ nodal views (per owned cell, per vertex)
    @property
    def psi_dofs(self) -> np.ndarray:
        return self._cell_dofs[self.ns]

    def nodal_fields(self):
        """mu, K, z per species and X at every (owned cell, vertex): shapes (ns, 2*n_cells) and (2*n_cells,)."""
        mu = self.u.x.array[np.stack(self._cell_dofs[: self.ns])]
        return mu, self._nodal_K, self._nodal_z, self._nodal_X

    def nodal_totals(self) -> np.ndarray:
        """Total concentration [mol/m^3] of each species at every (owned cell, vertex)."""
        mu, K, z, _ = self.nodal_fields()
        psi = self.u.x.array[self.psi_dofs]
        return K * np.exp(mu - z * psi) * (1.0 + self._nodal_rho)

    def vertex_depths(self) -> np.ndarray:
        """Depth of every (owned cell, vertex)."""
        return self._depths

    def vertex_lateral(self) -> np.ndarray:
        """Largest lateral coordinate magnitude of every (owned cell, vertex); zeros on the column."""
        return self._lateral

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
        psi = self.u.x.array[self.psi_dofs]
        mu_now, K, z_nodal, _ = self.nodal_fields()
        ln_c = np.log(K) + mu_now - z_nodal * psi
        ln_negligible = math.log(self.NEGLIGIBLE * self.scenario.numerics.concentration_floor)
        largest = np.empty_like(step)
        size = 0.0
        for i in range(self.ns):
            dofs = self._cell_dofs[i]
            rise = step[dofs] - z_nodal[i] * dpsi
            largest[:] = -np.inf
            np.maximum.at(largest, dofs, rise)  # a node's rise: the largest over its cells
            r = largest[dofs]
            damped = np.where(r > 0.0, np.minimum(np.log1p(np.maximum(r, 0.0)), self.MAX_RISE),
                              np.maximum(r, -self.MAX_DROP))
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


def assembled_vector(form) -> np.ndarray:
    """The local (owned and ghost) entries of the vector `form` assembles, ghost contributions summed."""
    vec = fem.assemble_vector(form)
    vec.scatter_reverse(dolfinx.la.InsertMode.add)
    return vec.array
