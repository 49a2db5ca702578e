"""The modules of the paper's experiment; :mod:`rgdl.pipeline` runs them (and re-exports their
public names).

* :mod:`rgdl.experiment.config` -- :class:`ExperimentConfig` and the named :data:`PRESETS`;
* :mod:`rgdl.experiment.cache` -- seeds, stage keys, cached arrays, finished-stage records;
* :mod:`rgdl.experiment.stages` -- the Monte Carlo data and the RBM stacks (cached, resumable);
* :mod:`rgdl.experiment.steps` -- the analysis as a list of named steps;
* :mod:`rgdl.experiment.generation` -- generation by Gibbs chains and its convergence check;
* :mod:`rgdl.experiment.summary` -- ``summary.json`` and its verdicts (nulls, xi);
* :mod:`rgdl.experiment.report` -- ``report.md``;
* :mod:`rgdl.experiment.plots` -- the figures.
"""
