"""What the controller runs, one module per resource it owns (clusters, deployments, the MLflow UI, the serving
template deployments fork from). Each operation of ``mlops_magics.api.routes`` owned by the controller names a
service and a method here; ``controller/__main__.py`` starts the services and hands them to ``controller/app.py``."""
