"""zifhelpers: the computing behind the ZIF-4 machine-learning-potential compendium.

Subpackages, each importing only from those listed before it:

``data``         the public data (pinned, checksummed), labelled data sets, CP2K files, the paper's values
``analysis``     structure from coordinates: neighbours, RDF/PMF, linkers, rings, pores, X-ray, elastic fits
``potentials``   calculators and the model registry, the 0.5.6 model and its converter, students, compiling
``simulation``   MD with checkpoints and guards, melt-quench, mechanics runs, validation runs, LAMMPS, ReaxFF
``training``     training specs and runs, checkpoint surgery, evaluation, active learning, sampling
``compendium``   the notebooks' plumbing: profiles, runner, results, report, figures, 3-D views
"""

import importlib
import importlib.abc
import importlib.machinery
import sys

#: Former module paths still named inside shipped checkpoints and package files
#: (a nequip ``_target_`` is resolved by importing its module path) -> their home now.
_MOVED = {
    "zifhelpers.deepening": "zifhelpers.potentials.students",
    "zifhelpers.repulsion": "zifhelpers.potentials.repulsion",
    "zifhelpers.legacy_arch": "zifhelpers.potentials.legacy_model",
    "zifhelpers.legacy_nn": "zifhelpers.potentials.tensor_products",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import a former module path as the module that now holds its code (same object)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in _MOVED:
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(_MOVED[spec.name])

    def exec_module(self, module):
        pass


# not inside a torch.package archive that interns this file (it has its own importer)
if not globals().get("__torch_package__") and not any(
        type(f).__name__ == "_MovedModules" for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())
