"""UserDataSpawnerMixin: each user's own database space, handed to their server at every start.

PostgreSQL (``data_admin_url`` set): the user's role and schema are provisioned (idempotently) before each
start with :func:`spawner.database.provision_user`, their server gets only that role's URL, and deleting the
user from the hub drops both. SQLite (the embedded default): the server gets its own file in the user's
``data`` folder and the read-only built-in file (:func:`spawner.database.sqlite_environment`).
The database calls run in worker threads: never on the hub's event loop.
"""

from __future__ import annotations

import asyncio
import pwd
from pathlib import Path

from jupyterhub.spawner import Spawner
from traitlets import Unicode

from spawner import database, names


def server_home(spawner: Spawner) -> Path | None:
    """The home folder of the user's server: the spawner's own (local processes) or the system user's."""
    home = getattr(spawner, "home_dir", None)
    if home:
        return Path(home)
    try:
        return Path(pwd.getpwnam(spawner.user.name).pw_dir)
    except KeyError:
        return None


class UserDataSpawnerMixin(Spawner):
    """Put it before the base spawner in the bases; it only adds environment and the delete step."""

    data_admin_url = Unicode(
        "",
        help="SQLAlchemy URL of the workbench database with an admin role (superuser, or CREATEROLE as on "
        "RDS). Set: one role + schema per user in PostgreSQL. Empty: SQLite files (embedded default).",
    ).tag(config=True)

    data_passwords_dir = Unicode(
        "",
        help="With data_admin_url: the hub's folder (mode 0700) that keeps each user's random database password, "
        "made at their first spawn, so all of a user's servers share one.",
    ).tag(config=True)

    builtin_data_file = Unicode(
        "",
        help="SQLite mode: the read-only file with the built-in models, made at hub start.",
    ).tag(config=True)

    user_data_folder_template = Unicode(
        "{home}/data",
        help="SQLite mode: the folder of the user's own database file; {home} is the server's home folder.",
    ).tag(config=True)

    @property
    def data_names(self) -> names.PlaygroundNames:
        return names.for_user(self.user.name)

    async def _data_names_in_use(self) -> names.PlaygroundNames:
        """PostgreSQL: the names of the user's space, which an earlier release may have named differently."""
        if not names.has_legacy_names(self.user.name):
            return self.data_names
        return await asyncio.to_thread(database.names_in_use, self.data_admin_url, self.data_names,
                                       names.for_user(self.user.name, legacy=True))

    async def _data_environment(self) -> dict[str, str]:
        if self.data_admin_url:
            if not self.data_passwords_dir:
                raise ValueError("UserDataSpawnerMixin.data_passwords_dir is required with data_admin_url")
            space = await self._data_names_in_use()
            password = await asyncio.to_thread(database.stored_password, Path(self.data_passwords_dir), space)
            user_db = await asyncio.to_thread(
                database.provision_user,
                self.data_admin_url,
                space,
                password=password,
            )
            return user_db.environment()
        home = server_home(self)
        if home is None:
            raise ValueError(f"no home folder is known for {self.user.name!r}, so their database file has no place")
        folder = Path(self.user_data_folder_template.format(home=home))
        await self.make_private_folder(folder)
        return database.sqlite_environment(folder, self.builtin_data_file)

    async def make_private_folder(self, folder: Path) -> None:
        """Make ``folder`` (0700) for the server; spawners whose servers run as another account make it as them."""

        def make() -> None:
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o700)

        await asyncio.to_thread(make)

    async def start(self):
        self.environment = {**self.environment, **await self._data_environment()}
        return await super().start()

    # JupyterHub requires every Spawner subclass to define all three; this layer changes only start.
    async def stop(self, now=False):
        return await super().stop(now=now)

    async def poll(self):
        return await super().poll()

    async def delete_forever(self):
        """The user is deleted from the hub: their role and schema go. Not when one named server is removed
        (JupyterHub calls this then too): the data is the user's, shared by all their servers."""
        if self.data_admin_url and not self.name:
            space = await self._data_names_in_use()
            await asyncio.to_thread(database.deprovision_user, self.data_admin_url, space)
            if self.data_passwords_dir:
                await asyncio.to_thread(database.forget_password, Path(self.data_passwords_dir), space)
        await super().delete_forever()
