"""`python -m gridops …` runs the same command line as `gridops …`."""

from gridops.cli import main

main()
