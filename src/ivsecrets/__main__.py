"""``python -m ivsecrets``: the ``ivsecrets`` command, where the console script is not on PATH."""

from ivsecrets.cli.app import main

if __name__ == "__main__":
    main()
