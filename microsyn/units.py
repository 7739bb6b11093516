"""Physical constants and unit conversions: the one place that knows about units.

microsyn works in one set of base units everywhere, with no conversion inside the code:

==================  ============  ==========================================
quantity            base unit     notes
==================  ============  ==========================================
length              um            1 um = 1e-6 m
time                ms            1 ms = 1e-3 s
concentration       mM            1 mM = 1 mol/m^3
voltage             mV
current             pA
capacitance         pF
conductance         nS            nS * mV = pA
temperature         K
diffusion coeff.    um^2/ms       1 um^2/ms = 1e-9 m^2/s
resistivity         ohm cm        (cytoplasm, as customary; converted here)
==================  ============  ==========================================

Derived numbers used throughout (computed below from CODATA 2018 constants):

- 1 mM in 1 um^3 holds ``PARTICLES_PER_UM3_PER_MM`` = 602,214 particles (1 uM: 602.2).
  (1 mM = 1 mol/m^3 and 1 um^3 = 1e-18 m^3, so 1e-18 mol = 6.022e5 particles.)
- 1 pA carries ``CHARGES_PER_MS_PER_PA`` = 6241.51 elementary charges per ms.
- A specific membrane capacitance of 1 uF/cm^2 is 0.01 pF/um^2 (``PF_PER_UM2_PER_UF_PER_CM2``).
- RT/F at 37 C (310.15 K) is 26.73 mV (see :func:`thermal_voltage`).

Column names and file attributes carry units in their names (``time_ms``, ``V_mV``,
``conc_mM``).
"""
from __future__ import annotations

import math

# --- exact SI constants (CODATA 2018 / SI 2019) ---------------------------------
ELEMENTARY_CHARGE_C = 1.602176634e-19  #: [C]
AVOGADRO_PER_MOL = 6.02214076e23  #: [1/mol]
BOLTZMANN_J_PER_K = 1.380649e-23  #: [J/K]
GAS_CONSTANT_J_PER_MOL_K = AVOGADRO_PER_MOL * BOLTZMANN_J_PER_K  #: R [J/(mol K)]
FARADAY_C_PER_MOL = AVOGADRO_PER_MOL * ELEMENTARY_CHARGE_C  #: F [C/mol]

# --- derived conversions in base units --------------------------------------------
#: particles in 1 um^3 at 1 mM: 1e-3 mol/L * 1e-15 L/um^3 * N_A
PARTICLES_PER_UM3_PER_MM = 1e-3 * 1e-15 * AVOGADRO_PER_MOL
#: elementary charges per ms carried by 1 pA: 1e-12 C/s * 1e-3 s/ms / e
CHARGES_PER_MS_PER_PA = 1e-12 * 1e-3 / ELEMENTARY_CHARGE_C
#: charge of 1 mM of monovalent ions in 1 um^3: 602,214 e = 96.485 fC
FEMTOCOULOMB_PER_MM_UM3 = PARTICLES_PER_UM3_PER_MM * ELEMENTARY_CHARGE_C * 1e15
#: 1 uF/cm^2 expressed in pF/um^2 (1e-6 F / 1e8 um^2 = 1e-14 F/um^2)
PF_PER_UM2_PER_UF_PER_CM2 = 1e-2
#: 1 S/cm^2 expressed in nS/um^2 (1 S / 1e8 um^2 = 1e-8 S/um^2 = 10 nS/um^2)
NS_PER_UM2_PER_S_PER_CM2 = 10.0
#: 1 mS/cm^2 in nS/um^2
NS_PER_UM2_PER_MS_PER_CM2 = 1e-2
#: D: 1 um^2/ms in m^2/s
M2_PER_S_PER_UM2_PER_MS = 1e-9
#: D: 1 cm^2/s in um^2/ms (1e8 um^2 / 1e3 ms)
UM2_PER_MS_PER_CM2_PER_S = 1e5
#: permeability: 1 cm/s in um/ms (1e4 um / 1e3 ms)
UM_PER_MS_PER_CM_PER_S = 10.0

ZERO_CELSIUS_K = 273.15  #: [K]
ROOM_TEMPERATURE_K = 295.15  #: 22 C [K]
BODY_TEMPERATURE_K = 310.15  #: 37 C [K]


def celsius_to_kelvin(t_celsius: float) -> float:
    """Convert a temperature from degrees Celsius to kelvin [K]."""
    return float(t_celsius) + ZERO_CELSIUS_K


def thermal_voltage(temperature_K: float = BODY_TEMPERATURE_K) -> float:
    """RT/F [mV] at the given temperature [K] (26.73 mV at 310.15 K)."""
    if not (math.isfinite(temperature_K) and temperature_K > 0):
        from .errors import ParameterError

        raise ParameterError(
            f"temperature_K must be a finite positive number of kelvin, got {temperature_K!r}"
        )
    return GAS_CONSTANT_J_PER_MOL_K * temperature_K / FARADAY_C_PER_MOL * 1e3


def mM_to_count(conc_mM: float, volume_um3: float) -> float:
    """Expected number of particles at concentration [mM] in a volume [um^3]."""
    return conc_mM * volume_um3 * PARTICLES_PER_UM3_PER_MM


def count_to_mM(count: float, volume_um3: float) -> float:
    """Concentration [mM] of ``count`` particles in a volume [um^3]."""
    return count / (volume_um3 * PARTICLES_PER_UM3_PER_MM)


def per_molar_per_second(k_per_M_per_s: float) -> float:
    """A second-order rate constant in [1/(M s)] expressed in base units [1/(mM ms)]
    (1e8 /M/s = 100 /(mM ms))."""
    return k_per_M_per_s * 1e-6


def pair_rate_um3_per_ms(k_per_mM_per_ms: float) -> float:
    """The rate [um^3/ms] at which one given pair of molecules reacts, per unit of
    concentration of partners, for a second-order rate constant [1/(mM ms)]:
    k / 602,214."""
    return k_per_mM_per_ms / PARTICLES_PER_UM3_PER_MM


def current_to_ion_rate(current_pA: float, valence: int) -> float:
    """Ions per ms carried by a current [pA] of ions with the given valence.

    The sign follows the current; a negative (inward) current of cations gives a negative rate.
    """
    if valence == 0:
        from .errors import ParameterError

        raise ParameterError("an uncharged species carries no current; give a valence != 0")
    return current_pA * CHARGES_PER_MS_PER_PA / valence


def ion_rate_to_current(ions_per_ms: float, valence: int) -> float:
    """Current [pA] carried by ``ions_per_ms`` ions of the given valence."""
    return ions_per_ms * valence / CHARGES_PER_MS_PER_PA


def specific_capacitance_pF_per_um2(c_uF_per_cm2: float) -> float:
    """Convert a specific capacitance from uF/cm^2 to pF/um^2."""
    return c_uF_per_cm2 * PF_PER_UM2_PER_UF_PER_CM2


def resistivity_ohm_cm_to_base(r_ohm_cm: float) -> float:
    """Convert a resistivity from ohm cm to the base unit GOhm um (= 1/(nS/um)).

    1 ohm cm = 1e4 ohm um = 1e-5 GOhm um. An axial conductance is then
    g [nS] = area [um^2] / (length [um] * rho [GOhm um]).
    """
    return r_ohm_cm * 1e-5
