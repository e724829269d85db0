"""The exact set of types a registered model may contain beyond what skops trusts by default.

Why an exact list and not prefixes such as ``sklearn.``: skops stores functions by module and
name, and scikit-learn, NumPy and friends re-export standard-library functions
(``sklearn.utils._testing.check_output`` *is* ``subprocess.check_output``), so any prefix
rule lets a tampered file call them. These are the types tunelab's own pipelines contain,
collected from fitted pipelines of every model family, feature-selection method and task;
``tests/test_registry.py`` round-trips all of them, so a new family or wrapper class that is
missing here fails a test instead of failing a user's ``predict``.

A model family from a new library declares its types in ``models/catalog.py``
(``FAMILY_TRUSTED_TYPES``); tunelab's own wrapper classes are listed in :data:`TUNELAB_TYPES`.
"""

from __future__ import annotations

from collections.abc import Iterable

from tunelab.models.catalog import FAMILY_TRUSTED_TYPES

#: tunelab's own estimator and transformer classes.
TUNELAB_TYPES = frozenset(
    {
        "tunelab.pipelines.compact_steps.CategoryCodes",
        "tunelab.pipelines.compact_steps.MedianImputer",
        "tunelab.pipelines.feature_selection.NearConstantFilter",
        # SelectPercentile's score functions (scikit-learn's, a block of columns at a time).
        "tunelab.pipelines.feature_selection.f_classif_by_columns",
        "tunelab.pipelines.feature_selection.f_regression_by_columns",
        "tunelab.pipelines.label_encoding.LabelEncodedClassifier",
        "tunelab.pipelines.preprocessing.NamedColumnTransformer",
        "tunelab.pipelines.transformers.CategoryCleaner",
        "tunelab.pipelines.transformers.DateFeatures",
        "tunelab.pipelines.transformers.FloatCast",
        "tunelab.pipelines.transformers.NumericCaster",
        # The compact tables' median (SimpleImputer's strategy), a function of this module.
        "tunelab.pipelines.transformers.column_median",
    }
)

#: scikit-learn internals skops does not trust by default (score functions, fitted trees).
SKLEARN_TYPES = frozenset(
    {
        "sklearn.feature_selection._univariate_selection.f_classif",
        "sklearn.feature_selection._univariate_selection.f_regression",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.tree._tree.Tree",
        # VotingClassifier/VotingRegressor (ensembles) keep their members in a Bunch (a dict).
        "sklearn.utils._bunch.Bunch",
    }
)

#: The model families' own estimators (e.g. the boosters), declared in the family list.
FAMILY_TYPES: frozenset[str] = frozenset().union(*FAMILY_TRUSTED_TYPES.values())

#: Plain containers and dtypes that appear inside fitted estimators' state.
BASIC_TYPES = frozenset({"collections.OrderedDict", "numpy.dtype"})

ALLOWED_MODEL_TYPES: frozenset[str] = TUNELAB_TYPES | SKLEARN_TYPES | FAMILY_TYPES | BASIC_TYPES


def unexpected_types(untrusted: Iterable[str]) -> list[str]:
    """The types (from ``skops.io.get_untrusted_types``) that are not on the allow-list."""
    return sorted(set(untrusted) - ALLOWED_MODEL_TYPES)


def check_model_types(untrusted: Iterable[str], refusal: str, hint: str = "") -> list[str]:
    """The types to trust when loading (every store and the MLflow mirror ask here, so the
    allow-list, and any mapping of renamed modules added later, lives in this module only);
    raises :class:`RegistryError` starting with ``refusal`` if any type is not allowed."""
    from tunelab.errors import RegistryError

    listed = list(untrusted)
    unexpected = unexpected_types(listed)
    if unexpected:
        where = " that are not in tunelab.model_types.ALLOWED_MODEL_TYPES, " if hint else ""
        raise RegistryError(
            f"{refusal}: it contains unexpected types {unexpected}"
            + (f"{where}{hint}" if hint else "")
        )
    return listed
