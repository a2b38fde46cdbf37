"""jaxmicro.characterise (in progress)."""
