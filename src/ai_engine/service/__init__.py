"""The HTTP service (FastAPI on uvicorn): thin routes over the Engine, a hot-swappable release.

``create_app`` builds the app; ``ai-engine serve`` runs it. See docs/api.md and
docs/operations.md.
"""

from ai_engine.service.app import create_app, serve
from ai_engine.serving.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app", "serve"]
