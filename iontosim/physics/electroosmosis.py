"""Electroosmotic solvent flow in charged layers.

Darcy flow with the electrical body force on the mobile space charge rho_e = -F X:

    v = -(kappa/mu) (dp/dx + rho_e dphi/dx)

In a 1D column the volume flux is the same at every depth; with the pressure equal at the
electrode and in deep tissue, and the uncharged layers offering no hydraulic resistance,

    v = F * sum_l int_l X dphi/dx dx / sum_l (L_l / (kappa_l/mu))

summed over the charged layers. kappa/mu of each layer is calibrated so that at the reference
pH and salt the flow per unit charge equals the measured one: v/i = (kappa/mu) F |X| / sigma.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from iontosim._fenics import MPI, dolfinx, ufl
from iontosim.physics.constants import FARADAY, GAS_CONSTANT
from iontosim.physics.fixed_charge import donnan_salt, fixed_charge
from iontosim.physics.term import Series, Step, Term

if TYPE_CHECKING:  # pragma: no cover
    from iontosim.model import Model

fem = dolfinx.fem


def reference_conductivity(fixed: float, salt: float, d_cation: float, d_anion: float, temperature: float) -> float:
    """Conductivity [S/m] of a charged layer in Donnan equilibrium with a 1:1 salt (ideal TMS)."""
    c_plus, c_minus = donnan_salt(fixed, salt)
    return FARADAY**2 / (GAS_CONSTANT * temperature) * (d_cation * c_plus + d_anion * c_minus)


def hydraulic_coefficient(volume_per_charge: float, conductivity: float, fixed: float) -> float:
    """kappa/mu [m^2/(Pa s)] giving `volume_per_charge` [m^3/C] at `fixed` [mol/m^3] and `conductivity`."""
    return volume_per_charge * conductivity / (FARADAY * abs(fixed))


def column_velocity(drives: list[float], thicknesses: list[float], coefficients: list[float]) -> float:
    """Superficial velocity [m/s], positive into the skin.

    drives[l] = int_l X dphi/dx dx [mol/m^3 V] over each charged layer l.
    """
    resistance = sum(length / k for length, k in zip(thicknesses, coefficients))
    if resistance == 0.0:
        return 0.0
    return FARADAY * sum(drives) / resistance


# ---------------------------------------------------------------- Darcy flow on a 2D/3D patch
#: Hydraulic permeability of regions that offer "no hydraulic resistance" (gel pads, uncharged
#: layers, open channels), relative to the most permeable charged layer: a numerical stand-in
#: for infinity, not a tissue value. The relative error it leaves in the flow is about
#: (thickness of open regions / thickness of charged ones) / factor: 4.5e-4 for the default skin
#: at 1e6, 4.5e-7 at 1e9 (tests/physics/test_electroosmosis_darcy.py). The pressure system is
#: solved by LU, which such a contrast does not trouble.
OPEN_PERMEABILITY_FACTOR = 1e9


def darcy_velocity(pressure, permeability, fixed, gradient, thermal_voltage):
    """Superficial velocity v = -(kappa/mu) (grad p - F X grad phi) [m/s], grad phi = `gradient` x
    thermal_voltage (`gradient`: grad psi, or the current's part of it, Electroosmosis.gradient).

    The same law as the column's: the mobile space charge -F X feels the field."""
    return -permeability * (ufl.grad(pressure) - FARADAY * thermal_voltage * fixed * gradient)


def pressure_equation(pressure, test, permeability, fixed, gradient, thermal_voltage, dx):
    """Bilinear and linear forms of div v = 0 for the pressure (trial `pressure`, test `test`):
    int k grad p . grad q = int k F X grad phi . grad q; v.n = 0 where nothing is prescribed."""
    a = permeability * ufl.inner(ufl.grad(pressure), ufl.grad(test)) * dx
    L = permeability * FARADAY * thermal_voltage * fixed * ufl.inner(gradient, ufl.grad(test)) * dx
    return a, L


class Electroosmosis(Term):
    """Electroosmotic solvent flow through the charged layers, calibrated per layer on the measured
    flow per charge; the transport term convects every species with it. On the 1D column (and a
    laterally uniform patch) the flow is the column's uniform one, exact there; where current
    spreads sideways or takes appendage channels it is a Darcy pressure solve (solver/darcy.py).
    Both lag one step: the velocity of a step comes from the potential at its start."""

    name = "electroosmosis"

    @classmethod
    def switched_on(cls, scenario, model: Model) -> Electroosmosis | None:
        charged = [r for r in model.regions if r.is_skin and getattr(r.spec, "fixed_charge", None) is not None]
        return cls() if scenario.electroosmosis is not None and charged else None

    def setup(self, model: Model) -> None:
        self.kappa_over_mu = [self._calibrated(model, region) for region in model.regions]
        channels = "appendages" in model.region_names()  # placed, or tagged in a mesh file
        self.flow_model = "darcy" if model.has_return or channels else "column"
        mesh = model.mesh
        if self.flow_model == "darcy":
            velocity = fem.Function(fem.functionspace(mesh, ("DG", 0, (mesh.geometry.dim,))), name="velocity")
        else:
            velocity = fem.Constant(mesh, np.zeros(mesh.geometry.dim))  # m/s, into the skin
        model.velocity, model.has_flow, model.flow_model = velocity, True, self.flow_model

    def _calibrated(self, model: Model, region) -> float:
        """kappa/mu [m^2/(Pa s)] of a charged layer (0 elsewhere): the flow per charge measured at
        the reference pH and salt, with the layer's own NaCl conductivity there."""
        fc = getattr(region.spec, "fixed_charge", None) if region.is_skin else None
        if fc is None:
            return 0.0
        eo = model.scenario.electroosmosis
        try:
            na, cl = model.index("Na+"), model.index("Cl-")
        except ValueError as err:
            raise ValueError("electroosmosis is calibrated on NaCl: species Na+ and Cl- are needed") from err
        x_ref = fixed_charge(eo.reference_pH, fc.isoelectric_point, fc.charge_at_reference_pH, fc.reference_pH)
        sigma = reference_conductivity(
            x_ref, eo.reference_salt, region.diffusivity[na], region.diffusivity[cl], model.temperature
        )
        return hydraulic_coefficient(eo.volume_per_charge, sigma, x_ref)

    def gradient(self, model: Model):
        """The potential gradient the space charge feels [1/m, in thermal units].

        With a fixed pH, grad psi. With a moving pH the fixed charge varies within a layer as it
        titrates, and so does the potential even without current (a Donnan potential that follows
        X); that part is balanced by the pore fluid's osmotic pressure, which the flow model does
        not carry, so the flow is driven by the current's own field only: -i / (sigma V_T), i the
        current density, sigma the local conductivity. In a uniform layer the two are equal."""
        if not model.moving_pH:
            return ufl.grad(model.psi)
        from iontosim.physics.transport import NernstPlanck

        transport = model.term(NernstPlanck)
        if model.mesh.topology.dim == 1 or self.flow_model == "column":  # the applied current, uniform
            current = ufl.as_vector([0.0] * model.depth_axis + [model.current_density])
        else:
            current = transport.current_density_vector(model, pointwise=True)  # at the Darcy solve's points
        return -current / (transport.conductivity(model) * model.thermal_voltage())

    def build(self, model: Model) -> None:
        from iontosim.physics.fixed_charge import FixedCharge

        self.fixed = model.term(FixedCharge).fixed
        self.darcy = None
        self.drive_form = None
        if self.flow_model == "darcy":
            from iontosim.mesh.column import DEEP, ELECTRODE
            from iontosim.mesh.skin_mesh import RETURN
            from iontosim.solver.darcy import DarcyFlow

            self.darcy = DarcyFlow(
                model.velocity,
                self.hydraulic_permeability(model),
                self.fixed,
                self.gradient(model),
                model.thermal_voltage(),
                model.column.facet_tags,
                (ELECTRODE, RETURN, DEEP),
                model.weighted,
                linear_solver=model.scenario.numerics.linear_solver,
                direct_solver_limit=model.scenario.numerics.direct_solver_limit,
            )
        else:
            q = ufl.TestFunction(model.dg0)
            self.drive_form = model.compiled(self.fixed * self.gradient(model)[model.depth_axis] * q * ufl.dx)

    def hydraulic_permeability(self, model: Model) -> dolfinx.fem.Function:
        """kappa/mu per cell [m^2/(Pa s)]: calibrated in charged layers; pads, uncharged layers and
        open channels offer no hydraulic resistance (OPEN_PERMEABILITY_FACTOR)."""
        open_k = OPEN_PERMEABILITY_FACTOR * max(k for k in self.kappa_over_mu if k > 0)
        return model.cellwise([k or open_k for k in self.kappa_over_mu], "hydraulic_permeability")

    def drives(self, model: Model) -> list[float]:
        """int_l X dphi/dx dx per charged layer [mol/m^3 V], per anode area."""
        from iontosim.model import assembled_vector

        n = len(model.layer_of_cell)
        per_layer = np.zeros(len(model.regions))
        np.add.at(per_layer, model.layer_of_cell, assembled_vector(self.drive_form)[:n])
        per_layer = model.comm.allreduce(per_layer, op=MPI.SUM) * model.thermal_voltage() / model.anode_area
        return [per_layer[k] for k, kappa in enumerate(self.kappa_over_mu) if kappa > 0]

    def series(self, model: Model) -> dict[str, Series | str]:
        if self.flow_model != "column":
            return {}
        what = (
            "the column's electroosmotic volume flux (superficial velocity) over the time step that ended at this time"
        )
        return {"electroosmotic_velocity": Series("m/s", what, "positive into the skin")}

    def values(self, model: Model, step: Step | None, ledger) -> dict[str, float]:
        """The column's volume flux of the step just taken (positive into the skin)."""
        if self.flow_model != "column":
            return {}
        return {"electroosmotic_velocity": float(model.velocity.value[model.depth_axis]) if step is not None else 0.0}

    def before_step(self, model: Model, step: Step) -> None:
        if self.darcy is not None:
            self.darcy.update()
            return
        from iontosim.physics.patch import PatchChanges

        patch = model.find(PatchChanges)
        if patch is not None and not patch.on:
            # the surface is closed: no volume crosses the column (the flow the last step's current
            # drove through the detached gel made the fitted flux's Newton solve fail)
            model.velocity.value[model.depth_axis] = 0.0
            return
        charged = [(r.thickness, k) for r, k in zip(model.regions, self.kappa_over_mu) if k > 0]
        model.velocity.value[model.depth_axis] = column_velocity(
            self.drives(model), [t for t, _ in charged], [k for _, k in charged]
        )
