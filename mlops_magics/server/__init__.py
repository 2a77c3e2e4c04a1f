"""The jupyter-server face: REST under /mlops/api/ for the side panel."""
