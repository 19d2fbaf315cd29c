"""Capillary clearance with epinephrine vasoconstriction, MODEL.md section 6.

Drug is removed by a first-order sink R = -k_cl(x) c in vascularised layers, together with a
counter-ion so that the sink carries no net charge. A vasoconstrictor lowers the local rate:

    k_eff = k_cl * (1 - E_max c_v^n / (EC50^n + c_v^n))
"""

from __future__ import annotations


def vasoconstriction_factor(c_vasoconstrictor, max_effect, ec50, hill):
    """Fraction of the clearance left at vasoconstrictor concentration c_v (UFL or float)."""
    activity = c_vasoconstrictor**hill
    return 1.0 - max_effect * activity / (ec50**hill + activity)


def sink(rate, porosity, c, test, dx):
    """-R w for the first-order sink R = -k eps c."""
    return rate * porosity * c * test * dx
