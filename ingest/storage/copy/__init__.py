"""`optiview db copy`: an existing SQLite database copied into a fresh PostgreSQL one.

source.py reads SQLite from one snapshot, target.py prepares and finishes the PostgreSQL side,
copier.py moves the rows with COPY in one transaction, progress.py shows it, cli.py wires it.
"""
