"""qdm: the executable companion to quantum diffusion models.

Layers, lowest first (:data:`LAYERS`; each module imports only modules of its own layer or of layers
before it, and no import circle exists: ``tests/test_layering.py`` checks both on the source):

0. ground floor: ``io`` (atomic writes, md5), ``validation`` (argument checks), ``annotations``
   (the annotation-driven dataclass checker), ``registry`` (the family registry, filled from above)
1. ``data``, then ``provenance`` (run and figure records) and ``grids`` (PNG sample grids)
2. ``schedules`` (beta formulas, :class:`~qdm.schedules.NoiseSchedule`, the one schedule builder)
3. ``diffusion`` (Gaussian diffusion maths and the DDPM scheduler object)
4. ``quantum`` (state-vector and density-matrix engines)
5. ``circuits``
6. ``models`` (networks and circuits as torch modules; no config, no trainer)
7. ``metrics`` (FID, KID, SSIM maths; ``inception_fold`` below it, the folded TF-Inception), then
   ``precision_recall``, ``memorisation`` and ``classifier`` (qdm's own MNIST / PathMNIST CNN)
8. ``config`` (typed experiment configs), then ``train`` (the one trainer) and ``run_metrics`` (a run's
   classifier and memorisation metrics)
9. ``protocols`` (the metric protocols: reference images, feature cache, KID ± SE, seed summaries; the
   families' own reference sets go through it)
10. ``families`` (the family protocol and the built-in families, registered on import)
11. ``presets`` (published configs, profiles, the named CPU experiments)
12. ``ledger`` (the committed record of finished runs), then ``runner`` (run store, sampling, evaluation)
13. the book's helpers: ``plotting``, ``nb``, ``publishing`` (the Sphinx extension for figure files,
    citations and notebook downloads), then ``audits`` (one module per audited paper and circuit
    checks), ``chapters`` (one module per notebook), ``audits.claims`` (the claims ledger, which reads a
    chapter's runs), ``chapters.audit`` (the audit chapter, which shows it), and ``cli`` on top
"""

__version__ = "0.1.0"

#: The import layers, lowest first; a module belongs to the layer whose entry is the longest prefix of its
#: dotted name ("qdm" names the package file only).  Within a layer, a module may import only the entries
#: listed before its own or its own entry.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("qdm", "qdm.io", "qdm.validation", "qdm.annotations", "qdm.registry"),
    ("qdm.data", "qdm.provenance", "qdm.grids"),
    ("qdm.schedules",),
    ("qdm.diffusion",),
    ("qdm.quantum",),
    ("qdm.circuits",),
    ("qdm.models",),
    ("qdm.inception_fold", "qdm.metrics", "qdm.precision_recall", "qdm.memorisation", "qdm.classifier"),
    ("qdm.config", "qdm.train", "qdm.run_metrics"),
    ("qdm.protocols",),
    ("qdm.families",),
    ("qdm.presets",),
    ("qdm.ledger", "qdm.runner"),
    (
        "qdm.plotting", "qdm.nb", "qdm.publishing", "qdm.audits", "qdm.chapters", "qdm.audits.claims", "qdm.chapters.audit",
        "qdm.cli",
    ),
)
