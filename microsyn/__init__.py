"""microsyn: event-driven synapse and microscale ion-diffusion simulator.

Base units everywhere: um, ms, mM, mV, pA, pF, nS (see :mod:`microsyn.units`).

The top level holds the nouns: species, shapes and domains, the simulation, sources,
recorders and the lattice; channel types and synapses; results files. The subsystems are
namespaces: ``microsyn.membrane`` (the electrical model), ``microsyn.reactions`` (reactions, buffers and
lattice fields), ``microsyn.channels``,
``microsyn.gating``, ``microsyn.synapse``, and ``microsyn.render`` (imported on demand: it
loads PyVista).
"""
from .errors import (
    DomainEscapeError,
    GeometryError,
    MeshError,
    MicrosynError,
    ParameterError,
    ScenarioError,
    TimeStepError,
    UnknownSpeciesError,
)
from .events import OffGridTimeError
from .geometry import Box, Cylinder, Domain, HalfSpace, Mesh, Slab, Sphere, list_meshes, load_mesh
from .lattice import Lattice
from .patches import DiscPatch, PolygonPatch, TrianglePatch
from .recorders import (At, Count, Every, HeightProfile, MeanSquaredDisplacement, RadialProfile, ReactionCount,
                        Snapshot)
from .simulation import Simulation
from .sources import FluxSource, PointRelease, UniformFill
from .species import STANDARD_SPECIES, Species, SpeciesTable, get_species
from . import channels, gating, membrane, reactions, synapse, units  # noqa: E402  (subsystems as namespaces)
from .channels import AMPA, GABA_A, GIRK, NMDA, ChannelType
from .checkpoint import CheckpointError
from .reactions import Reaction
from .results import OutputPathError, ResultsFile, ResultsWriter
from .synapse import Synapse, SynapticCoupling

__version__ = "0.1.0"

__all__ = [
    "AMPA", "CheckpointError", "ChannelType", "OffGridTimeError", "OutputPathError", "GABA_A", "GIRK", "NMDA", "Reaction", "ResultsFile", "ResultsWriter", "Synapse",
    "SynapticCoupling", "channels", "gating", "membrane", "reactions", "synapse", "units",
    "At", "Box", "Count", "Cylinder", "Domain", "DomainEscapeError", "Every", "FluxSource",
    "GeometryError", "HalfSpace", "HeightProfile", "Lattice", "MeanSquaredDisplacement", "Mesh",
    "MeshError", "MicrosynError", "ParameterError", "PointRelease", "RadialProfile", "ReactionCount",
    "STANDARD_SPECIES", "ScenarioError", "Simulation", "Slab", "Snapshot", "Species",
    "SpeciesTable", "Sphere", "TimeStepError", "UniformFill", "UnknownSpeciesError",
    "get_species", "list_meshes", "load_mesh", "DiscPatch", "PolygonPatch", "TrianglePatch",
]
