"""The papermill plan (``plan.yaml``), its runner, and the progress-bar switch."""
