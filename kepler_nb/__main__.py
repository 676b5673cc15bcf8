from .presentation.cli import run

run()
