"""What composes and drives users' servers: the spawners the hub uses (``workbench``), each user's AWS playground
(``playground``, ``stacks``, ``credentials``, ``drift``), their database space (``userdata``, ``database``), the
dashboards put into their server (``dashboards``, ``published``), the names of their resources (``names``) and the
environment contract (``environment``: the only meeting point with the user side).

May import jupyterhub, traitlets, boto3 and psycopg; never :mod:`hub` (the hub configures these classes through
their traits) nor the user side.
"""
