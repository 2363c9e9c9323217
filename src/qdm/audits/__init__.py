"""Audits of the published models and of the presets' costs, one module per concern.

* :mod:`qdm.audits.circuits`: weight effect, dead weights, closed-form deviation, gradient reach of
  variational circuits (full state-vector simulation, never the closed form under test);
* :mod:`qdm.audits.ano`: the QAMP 2025 ANO hybrid (the Hadamard-test block hands the state on unchanged,
  the observables' anti-Hermitian part gets no gradient, t and label enter only through the angle table;
  the Meyer–Wallach entangling capability of its layer);
* :mod:`qdm.audits.pqc`: label-block norms and ancilla statistics of the PQC denoiser;
* :mod:`qdm.audits.costs`: step timing and parameter counts of every preset;
* :mod:`qdm.audits.chen2025`: the chen2025 audit (four variants × seeds, both metric protocols of
  :mod:`qdm.protocols`);
* :mod:`qdm.audits.lowdata`: the low-data study of the chen2025 claim (its grid, hypothesis and
  seed-paired statistics);
* :mod:`qdm.audits.estimator_bias`: the FID/KID bias against n and the 5-image quantum − classical gap,
  measured once into ``ledger/measurements``;
* :mod:`qdm.audits.claims`: the claims ledger of every paper and its verdicts (a layer above
  :mod:`qdm.chapters`, whose runs it reads; not imported here).
"""

from qdm.audits import ano, chen2025, circuits, costs, estimator_bias, lowdata, pqc

__all__ = ["ano", "chen2025", "circuits", "costs", "estimator_bias", "lowdata", "pqc"]
