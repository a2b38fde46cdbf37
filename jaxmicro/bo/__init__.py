"""jaxmicro.bo (in progress)."""
