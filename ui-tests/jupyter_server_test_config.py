"""Server configuration for the galata UI tests (jlpm start).

Opens JupyterLab on a fixed local port with galata's test settings; MLOPS_HOME comes from the environment
(the Makefile points it at ui-tests/.ui-root/.mlops, in the Jupyter root) so the tests never touch a real workspace.
"""

from jupyterlab.galata import configure_jupyter_server

c = get_config()  # noqa: F821

configure_jupyter_server(c)

c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = 8899
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.ServerApp.allow_root = True
