"""jaxmicro.design (in progress)."""
