"""Fixed charge from pI and pH, Donnan equilibrium and TMS permselectivity (docs/derivations.md#fixed-charge)."""

import math

import pytest

from iontosim.physics.fixed_charge import donnan_potential, donnan_salt, fixed_charge

PI, X74 = 4.8, -100.0  # MARRO2001 pI; X(7.4) back-calculated from t_Na (MUDRY2007, KIRK_TABLE)


def test_charge_vanishes_at_isoelectric_point_and_flips_sign():
    assert fixed_charge(PI, PI, X74, 7.4) == pytest.approx(0.0, abs=1e-12)
    assert fixed_charge(7.4, PI, X74, 7.4) == pytest.approx(X74, rel=1e-12)
    assert fixed_charge(3.5, PI, X74, 7.4) > 0  # positive below pI: electroosmosis reverses
    assert fixed_charge(6.0, PI, X74, 7.4) < 0


def test_donnan_equilibrium_exact():
    x, c0 = -100.0, 154.0
    cp, cm = donnan_salt(x, c0)
    assert cp * cm == pytest.approx(c0**2, rel=1e-12)
    assert cp - cm + x == pytest.approx(0.0, abs=1e-10)
    psi = donnan_potential(x, c0)
    assert psi == pytest.approx(math.asinh(x / (2 * c0)), rel=1e-14)
    assert cp == pytest.approx(c0 * math.exp(-psi), rel=1e-12)  # Boltzmann with the Donnan potential


def test_tms_sodium_transport_number_matches_calibration():
    """X(7.4) = -100 mM in 154 mM NaCl gives t_Na = 0.55 (docs/derivations.md#fixed-charge), to 0.01."""
    cp, cm = donnan_salt(X74, 154.0)
    d_na, d_cl = 1.73e-9, 2.64e-9  # 37 C, KIRK_TABLE x 1.3
    t_na = d_na * cp / (d_na * cp + d_cl * cm)
    assert t_na == pytest.approx(0.55, abs=0.01)
    # free solution (no fixed charge) gives the aqueous value D_Na / (D_Na + D_Cl) = 0.396
    cp0, cm0 = donnan_salt(0.0, 154.0)
    assert d_na * cp0 / (d_na * cp0 + d_cl * cm0) == pytest.approx(0.396, abs=0.002)
