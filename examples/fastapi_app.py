"""A FastAPI app whose agents run on uvicorn's loop: one sync agent, one async agent.

    pip install '.[fastapi]'                    # in a clone (not on a package index yet)
    export ACTORSCHED_TOKEN=change-me           # the control API needs a token (no default)
    uvicorn examples.fastapi_app:app            # from the repository root

    # schedules that survive restarts, each tick run once among the workers:
    ACTORSCHED_STORE=state.db uvicorn examples.fastapi_app:app --workers 4

    curl localhost:8000/agents
    curl -X POST -H "Authorization: Bearer $ACTORSCHED_TOKEN" localhost:8000/agents/news/run
    curl -X POST -H "Authorization: Bearer $ACTORSCHED_TOKEN" -H "Content-Type: application/json" \
         -d '{"schedule": "every 5s"}' localhost:8000/agents/digest/start

Or open localhost:8000/docs, click Authorize, paste the token, and try the routes there.
"""

import asyncio
import os
import time

from fastapi import FastAPI

from actors import ActorSystem, Start
from actors.fastapi import lifespan, router


def digest(task: str) -> str:
    """A sync agent: runs in a worker thread, never on the event loop."""
    return f"{task} at {time.strftime('%H:%M:%S')}"


async def news(task: str) -> str:
    """An async agent: awaited on uvicorn's loop."""
    await asyncio.sleep(0.1)  # stands in for an HTTP call to a model API
    return f"news about {task}"


def setup(system: ActorSystem) -> None:
    """Spawn and start the agents once the server's loop runs."""
    system.spawn(news, task="AI", name="news").tell(Start("every 30s", run_immediately=True))
    system.spawn(digest, task="daily digest", name="digest")  # idle until POST .../start


# Built at import time, outside any loop; bound to uvicorn's at startup. With ACTORSCHED_STORE
# (a path or a URL) the schedules survive restarts and run once among the workers.
system = ActorSystem(store=os.environ.get("ACTORSCHED_STORE") or None)
app = FastAPI(title="actorsched example", lifespan=lifespan(system, on_startup=setup))
app.include_router(router(system))  # token from ACTORSCHED_TOKEN; ValueError if unset
