"""One module per rule; each has an id, a guideline citation and `evaluate(...)`."""
