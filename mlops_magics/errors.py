"""The one family of errors every face knows how to show.

Core code raises these with a message a person can act on; the faces turn them into one line
(magics, CLI) or one JSON shape ``{code, message}`` (REST). Anything else is a bug.
"""

from __future__ import annotations


class MLOpsError(Exception):
    """An error whose message is meant for the user, with an HTTP status for the REST face."""

    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidInput(MLOpsError):
    code = "invalid_input"
    status = 400


class Unauthorized(MLOpsError):
    code = "unauthorized"
    status = 401


class Forbidden(MLOpsError):
    """Asked for something the caller may not reach (a path outside the Jupyter root and the workspace)."""

    code = "forbidden"
    status = 403


class NotFound(MLOpsError):
    code = "not_found"
    status = 404


class Conflict(MLOpsError):
    code = "conflict"
    status = 409


class WorkspaceError(MLOpsError):
    """The workspace's files cannot be used as they are (corrupt, foreign, newer schema)."""

    code = "workspace_error"
    status = 500


class ControllerUnavailable(MLOpsError):
    code = "controller_unavailable"
    status = 503


class TrackingUnavailable(MLOpsError):
    """The MLflow store cannot be read or written (unreachable, locked, misconfigured): worth a retry."""

    code = "tracking_unavailable"
    status = 503


_BY_CODE: dict[str, type[MLOpsError]] = {
    cls.code: cls
    for cls in (
        MLOpsError,
        InvalidInput,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        WorkspaceError,
        ControllerUnavailable,
        TrackingUnavailable,
    )
}


def error_from_dict(payload: dict[str, object]) -> MLOpsError:
    """Rebuild the error a remote core (the controller) raised, so faces show it unchanged."""
    cls = _BY_CODE.get(str(payload.get("code", "error")), MLOpsError)
    return cls(str(payload.get("message", "unknown error")))
