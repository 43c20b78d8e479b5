"""The REST API: ``create_app(settings)`` builds a FastAPI app around a controller."""

from kairos.server.api.main import create_app

__all__ = ["create_app"]
