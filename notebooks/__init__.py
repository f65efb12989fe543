"""The dashboards' notebooks (Voila pages) and their manifest, ``dashboards.json``, shipped as package data.

Each notebook only builds and shows its ``dashboards`` module. The hub reads the manifest and copies the listed
notebooks into each user's server (:mod:`spawner.dashboards`); nothing here is imported by code.
"""
