"""The workspace's own records (clusters, events; jobs and deployments later) in ``state.db``."""

from mlops_magics.state.database import open_state
from mlops_magics.state.models import ClusterRecord, Event

__all__ = ["ClusterRecord", "Event", "open_state"]
