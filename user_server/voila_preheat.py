"""Voila kernel preheating inside a Jupyter server: the dashboards open from kernels that already ran them.

Standalone Voila keeps a pool of kernels that have run a notebook (``--preheat_kernel``); a page load takes one
and only sends the rendered cells. Measured with voila 0.5.13 on a 2-core machine, time to the first widget on a
page was 7.8–9.1 s when a new kernel ran the whole notebook per page load, 3.2–3.4 s with ``--preheat_kernel=True
--pool_size=1``.

Users' servers run Voila as a Jupyter *server extension*, where Voila offers no preheating: its page handler
asks the server's kernel manager for ``notebook_data`` and ``get_pool_size`` and, when those are missing, starts
a new kernel per page load. This module supplies both halves:

* :class:`PreheatingKernelManager`, the server's kernel manager class (set in ``user_server/jupyter_config/``), is
  Voila's own pooling kernel manager with its construction and pool filling made independent of the standalone
  Voila app;
* the server extension in this module starts the pools once the server is set up, for the notebooks named in
  :data:`PREHEAT_VARIABLE` (the hub sets it: the offered dashboards, or the one a published server shows).

With the variable unset (JupyterLab outside the hub, tests) nothing is preheated and the kernel manager behaves as
jupyter_server's own. Only the listed notebooks are ever run in advance: running a notebook must be free of side
effects for it to be listed (the dashboards only build widgets until someone clicks).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import Float, Int
from voila.configuration import VoilaConfiguration
from voila.notebook_renderer import NotebookRenderer
from voila.paths import collect_template_paths
from voila.server_extension import load_config_file
from voila.utils import ENV_VARIABLE, get_page_config
from voila.voila_kernel_manager import voila_kernel_manager_factory, wait_before

# Space-separated notebook paths relative to the server's root (e.g. "dashboards/load_test.ipynb").
PREHEAT_VARIABLE = "WORKBENCH_PREHEAT_NOTEBOOKS"
POOL_SIZE_VARIABLE = "WORKBENCH_PREHEAT_POOL_SIZE"

_VoilaPoolingKernelManager: Any = voila_kernel_manager_factory(AsyncMappingKernelManager, True, 0)


def notebooks_from_environment(environ: dict[str, str] | None = None) -> list[str]:
    value = (os.environ if environ is None else environ).get(PREHEAT_VARIABLE, "")
    return [path for path in value.split() if path.endswith(".ipynb")]


class PreheatingKernelManager(_VoilaPoolingKernelManager):
    """jupyter_server's kernel manager plus Voila's pools of pre-rendered notebooks, for chosen notebooks only."""

    pool_size = Int(
        1,
        config=True,
        help="""Kernels kept ready per preheated notebook. Each holds one page load's worth of rendered notebook
        and costs one idle kernel's memory; a page load takes one and a new one starts after `fill_delay`.
        0 turns preheating off.""",
    )

    stagger_seconds = Float(
        2.0,
        config=True,
        help="""Seconds between starting the pools of successive notebooks when the server starts, in the order
        they are listed (the home page's order): a server that starts five kernels at once competes with its own
        first page, and a hub where many people log in at once with every other server.""",
    )

    def __init__(self, **kwargs):
        # Voila's own __init__ reads the standalone app's attributes and starts filling at once; here the pools
        # start from the server extension, when the web application they render for exists.
        AsyncMappingKernelManager.__init__(self, **kwargs)
        self.notebook_data: dict = {}
        self._pools: dict = {}
        self._renderer_settings: dict | None = None
        self._preheated: set[str] = set()

    def preheat(self, notebooks: list[str], renderer_settings: dict[str, Any]) -> list[str]:
        """Start a pool for each notebook (missing files are skipped with a warning); return those preheated."""
        self._renderer_settings = renderer_settings
        for notebook in notebooks:
            if not os.path.isfile(os.path.join(self.root_dir, notebook)):
                self.log.warning("Not preheating %s: no such notebook under %s", notebook, self.root_dir)
                continue
            delay = len(self._preheated) * self.stagger_seconds
            self._preheated.add(notebook)
            self.fill_if_needed(delay=delay, notebook_name=notebook)
        return [notebook for notebook in notebooks if notebook in self._preheated]

    def fill_if_needed(self, delay=None, notebook_name=None, extra_kernel_env_variables=None, **kwargs) -> None:
        if notebook_name not in self._preheated or self.pool_size <= 0:
            return
        delay = self.fill_delay if delay is None else delay
        pool = self._pools.setdefault(notebook_name, [])
        env = {
            **os.environ,
            **(extra_kernel_env_variables or {}),
            ENV_VARIABLE.VOILA_BASE_URL: self._renderer_settings["base_url"],
            ENV_VARIABLE.VOILA_SERVER_URL: self._renderer_settings["base_url"],
            ENV_VARIABLE.VOILA_PREHEAT: "True",
        }
        loop = asyncio.get_event_loop()
        for _ in range(self.pool_size - len(pool)):
            start = self._initialize(notebook_name, None, path=os.path.dirname(notebook_name), env=env)
            task = loop.create_task(wait_before(delay, start))
            task.add_done_callback(lambda done, name=notebook_name: self._log_heated(name, done))
            pool.append(task)

    def _log_heated(self, notebook: str, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        if task.exception() is not None:
            self.log.error("Preheating %s failed: %r", notebook, task.exception())
            # a broken pool entry would fail every page load: drop it, the next load starts its own kernel
            pool = self._pools.get(notebook, [])
            if task in pool:
                pool.remove(task)
        else:
            # the kernel is up and running the notebook; the page handler waits for the rest if asked sooner
            self.log.info("Preheating kernel started for %s", notebook)

    def _notebook_renderer_factory(self, notebook_path: str | None = None) -> NotebookRenderer:
        settings = self._renderer_settings
        page_config_kwargs = {
            "base_url": settings["base_url"],
            "settings": settings["web_settings"],
            "log": self.log,
            "voila_configuration": settings["voila_configuration"],
        }
        page_config = get_page_config(**page_config_kwargs)
        hook = settings["voila_configuration"].page_config_hook
        if hook:  # as Voila's page handler does for a page rendered on request
            page_config = hook(page_config, **page_config_kwargs, notebook_path=notebook_path)
        return NotebookRenderer(
            voila_configuration=settings["voila_configuration"],
            traitlet_config=settings["traitlet_config"],
            notebook_path=notebook_path,
            template_paths=settings["template_paths"],
            config_manager=settings["web_settings"]["config_manager"],
            contents_manager=settings["contents_manager"],
            base_url=settings["base_url"],
            kernel_spec_manager=self.kernel_spec_manager,
            page_config=page_config,
            mathjax_config=settings["web_settings"].get("mathjax_config"),
            mathjax_url=settings["web_settings"].get("mathjax_url"),
        )


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(server_app) -> None:
    notebooks = notebooks_from_environment()
    manager = server_app.kernel_manager
    if not notebooks:
        return
    if not isinstance(manager, PreheatingKernelManager):
        server_app.log.warning(
            "Not preheating dashboards: the kernel manager is %s, not %s",
            type(manager).__name__, PreheatingKernelManager.__name__,
        )
        return
    if os.environ.get(POOL_SIZE_VARIABLE, "").strip():
        manager.pool_size = int(os.environ[POOL_SIZE_VARIABLE])
    # the same configuration Voila's server extension builds for its page handler, so the pages match
    voila_configuration = VoilaConfiguration(parent=server_app)
    local_config = load_config_file()
    if local_config is not None:
        voila_configuration.update_config(local_config)
    web_app = server_app.web_app
    preheated = manager.preheat(
        notebooks,
        {
            "voila_configuration": voila_configuration,
            "template_paths": collect_template_paths(["voila", "nbconvert"], voila_configuration.template),
            "traitlet_config": server_app.config,
            "contents_manager": server_app.contents_manager,
            "base_url": web_app.settings["base_url"],
            "web_settings": web_app.settings,
        },
    )
    server_app.log.info("Keeping %d kernel(s) ready for each of %s", manager.pool_size, ", ".join(preheated))
