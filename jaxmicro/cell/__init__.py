"""jaxmicro.cell (in progress)."""
