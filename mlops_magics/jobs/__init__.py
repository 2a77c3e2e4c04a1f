"""The jobs stage: a notebook run as a job — its parameters (papermill's), where its files are, its schedule, and
the process that executes one run. The controller (``controller/services/jobs.py``) owns jobs and starts runs."""
