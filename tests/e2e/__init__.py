"""End-to-end tests: real `prefect server start`, `prefect deploy`, a process worker."""
