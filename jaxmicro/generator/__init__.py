"""jaxmicro.generator (in progress)."""
