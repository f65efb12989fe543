"""CloudFormation templates shipped as package data: ``playground.yaml``, the stack made for each user.

Read by :mod:`spawner.playground`; nothing here is imported by code.
"""
