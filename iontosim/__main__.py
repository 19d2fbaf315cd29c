"""python -m iontosim: the command line."""

from iontosim.cli import main

main()
