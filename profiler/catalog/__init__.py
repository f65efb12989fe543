"""Users' own data models: a model's spec (``spec``), mapped to SQLAlchemy classes (``mapping``), filled with
generated rows (``rows``), kept in the user's data space (``space``) and managed as a catalogue (``catalog``).

May import :mod:`profiler.models` (the built-ins sit beside users' models), :mod:`profiler.playground` and
:mod:`profiler.inputs`.
"""
