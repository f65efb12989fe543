"""The profiling engines, without UI or server plugins: ``queries`` (loading strategies compared, N+1 found),
``models`` (the built-in schemas), ``catalog`` (users' own models in their data space), ``loadtest`` (DynamoDB load
tests), ``cache`` (what caching saves), ``datagen`` (the generated conversations dataset and the built-in data
installer), ``costs`` (EC2, Fargate or Lambda for servers and load-test workers: a pure cost model), ``playground``
(reads the environment contract the hub writes), ``netdelay`` (a latency proxy that puts a database a real round
trip away) and ``inputs`` (how every engine refuses a value it cannot use:
``InputError``, naming the field and what is allowed).

May import SQLAlchemy, boto3 and the like; never ``widgets``, ``dashboards``, ``user_server`` nor the hub side.
Dependencies run one way: catalog -> models, queries -> models, cache -> queries/models/netdelay, datagen -> models;
every engine may import ``inputs``, which imports nothing of the project (``netdelay`` imports only it).
"""
