"""Browser tests: JupyterLab in headless Chromium (marker ``browser``)."""
