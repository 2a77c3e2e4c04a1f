"""``python -m mlops_magics.serving``: one deployment's process (the controller starts it)."""

from mlops_magics.serving import environment

environment.apply()  # before numpy loads

from mlops_magics.serving.server import main  # noqa: E402

main()
