"""What one fit is, as data: the vocabulary every other part of Kepler speaks.

- ``call``: one call to ``fit``, its arguments bound by name (``FitCall``);
- ``data``: read-only views of the data given to ``fit`` (``DataView``);
- ``model``: a description of the model (layers, configuration, compile settings);
- ``environment``: versions, devices, host and git state;
- ``fingerprint``: content fingerprints and statistics of the data;
- ``signature``: what makes two runs the same experiment, or the same model;
- ``estimator``, ``estimator_call``, ``outcome``, ``rows``: the same for a
  scikit-learn estimator (its parameters and search results, its fit call and
  signature, the scores computed after it, row hashes).

This package imports no other part of ``kepler_nb``: checks, the journal,
the presentation and the interception all build on it. A new field that
describes a fit goes here; a new framework's description of its fits goes
beside the Keras one.
"""
