"""Interatomic potentials: one name per model, and the code to build, convert and compile them.

``registry``         :func:`~zifhelpers.potentials.registry.load_calculator`: every model by name, or a file
``calculators``      the nequip 0.5.6 TorchScript calculator of the published model
``legacy_model``     the published architecture rebuilt in nequip 0.19 modules
``tensor_products``  fused tensor-product/scatter module used by every converted or fused model
``convert``          conversion of the published model to nequip 0.19, checked against the original
``students``         the model class of the shipped NequIP students
``repulsion``        switched ZBL core repulsion
``checkpoints``      read, rebuild and write nequip checkpoints
``compile``          AOT Inductor compilation (``inductor``: the backported CPU fix)
``timing``           fair per-atom timings; ``scaling``: cost and memory against system size
"""
