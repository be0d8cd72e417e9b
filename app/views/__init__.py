"""The studio's blueprints: pages, panels and the scriptable API."""
