"""Report 2: crystal system from powder XRD (patterns, data sets, models, classify CLI).

Modules: ``patterns`` (peak lists, the 2θ grid, smoothing, images, labels), ``structures``
(pyxtal random crystals, MP-20 CSV, optional matminer / Materials Project API loaders),
``dataset`` (parallel generation, HDF5 cache, grouped splits), ``augment`` (measurement-like
augmentation), ``models`` (MobileNetV2, 1D CNN, training, bundles), ``evaluate`` (the report's
table, the verdict and the metrics of notebook 06, computed), ``plots`` (its figures, drawn),
``variants`` (structure variants that keep the space group, batched peak lists),
``profiles`` (batched Gaussian and pseudo-Voigt profiles on the grid), ``simulate``
(measurement-like patterns drawn per epoch), ``stream`` (``PatternStream``, a Keras data source),
``networks`` (ConvNeXt-style 1D network), ``calibration`` (temperature scaling, ECE, coverage),
``measured`` (the RRUFF validation set), ``classify`` (the command ``python -m lib.xrd classify``).  Keras is imported only by
``models``, ``networks``, ``stream`` and ``classify``.
"""
