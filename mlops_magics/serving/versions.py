"""Which exact model a deployment serves: an alias resolved to its version once, when the model loads, so that
what is recorded (and what a rollback returns to) is that version, wherever the alias moves afterwards.
Light on purpose: the controller imports it."""

from __future__ import annotations


def pin(uri: str) -> tuple[str, str | None]:
    """The exact model behind ``uri`` and its registered version: ``models:/name@alias`` ->
    (``models:/name/3``, "3"); ``models:/name/3`` as it is; anything else (``runs:/``, a path) as it is, no
    version. An alias that does not exist raises MLflow's error."""
    import mlflow

    rest = uri.removeprefix("models:/")
    if rest == uri:
        return uri, None
    if "@" in rest:
        name, alias = rest.split("@", 1)
        version = str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
        return f"models:/{name}/{version}", version
    name, _, version = rest.partition("/")
    return uri, version if version.isdigit() else None


def pinned_spec(uri: str) -> str:
    """How a deployment names an exact version (``models:/name/3`` -> ``name/3``), e.g. to roll back to it."""
    rest = uri.removeprefix("models:/")
    name, _, version = rest.partition("/")
    return rest if rest != uri and version.isdigit() and "@" not in name else uri
