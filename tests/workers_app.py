"""An app for tests/test_durable.py: one agent whose every run appends this worker's pid to a file."""

import os

from fastapi import FastAPI

from actors import ActorSystem, Start
from actors.fastapi import lifespan, router

RUNS = os.environ["RUNS_FILE"]


def beat(task: str) -> None:
    with open(RUNS, "a") as runs:
        runs.write(f"{os.getpid()}\n")


def setup(system: ActorSystem) -> None:
    system.spawn(beat, task="t", name="beat").tell(Start("0.1"))


system = ActorSystem(store=os.environ["ACTORSCHED_STORE"], lease_seconds=2.0)
app = FastAPI(lifespan=lifespan(system, on_startup=setup))
app.include_router(router(system, token="s3cret"))
