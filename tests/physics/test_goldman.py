"""Constant-field (Goldman) enhancement (Kasting & Keister 1989, KASTING_KEISTER1989).

Trace lidocaine (1 mM, a weak base, fully ionized at pH 4) crosses a homogeneous uncharged membrane in 150 mM NaCl. The
background fixes a uniform field, so at steady state the flux enhancement over passive diffusion
is E = Pe / (1 - exp(-Pe)), Pe = z F dV / (R T), with dV the potential drop the solver itself
computes across the membrane. Tolerance 1 %: the default (lumped) flux at 40 cells for Pe ~ 4,
with a 10 mm gel that empties a little (test_convergence.py removes that offset).
"""

import pytest

from tests.conftest import goldman_error


@pytest.mark.slow
def test_goldman_enhancement():
    error, pe = goldman_error(40, donor_mm=10.0, donor_mixing=1.0)
    assert 2.0 < pe < 8.0  # the regime the test is meant to probe
    assert abs(error) < 0.01


@pytest.mark.slow
def test_goldman_enhancement_of_a_half_ionized_weak_base():
    """At pH = pKa half of the lidocaine is neutral: it diffuses but does not migrate, so the
    enhancement is that of Pe/2 (an unionized model would give Pe, a strong one Pe at twice the
    migration). Same tolerance; fitted flux, exact for a constant field."""
    from iontosim.library.species import get_species

    error, pe = goldman_error(40, flux="fitted", pH=get_species("lidocaine").pKa)
    assert 1.0 < pe < 4.0
    assert abs(error) < 0.01
