# Every user's server runs with this configuration (the hub points JUPYTER_CONFIG_PATH here:
# spawner/user_server_files.py). Server extensions are enabled in jupyter_server_config.d/.
import os

from user_server.voila_pages import dashboard_page_config

c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

# Voila's kernel preheating, inside the server (user_server/voila_preheat.py)
c.ServerApp.kernel_manager_class = "user_server.voila_preheat.PreheatingKernelManager"
# Widget messages sent at once, Nagle's algorithm off (user_server/kernel_websocket.py)
c.ServerApp.kernel_websocket_connection_class = "user_server.kernel_websocket.PromptKernelWebsocketConnection"
# Voila's lab template with its assets served by this server, not a CDN
# (user_server/jupyter_data/voila/templates/workbench)
c.VoilaConfiguration.template = "workbench"
# The dashboards' pages load no front-end extension they do not use (user_server/voila_pages.py)
c.VoilaConfiguration.page_config_hook = dashboard_page_config
# Kernels no page has had open for the hub's idle time are shut down (hub/services/culler.py sets the variable;
# unset or 0: never). Kernels waiting in a preheating pool are exempt: Voila's pooling kernel manager skips them.
_kernel_idle_timeout = int(os.environ.get("WORKBENCH_KERNEL_IDLE_TIMEOUT") or 0)
if _kernel_idle_timeout > 0:
    c.MappingKernelManager.cull_idle_timeout = _kernel_idle_timeout
    c.MappingKernelManager.cull_connected = False  # a kernel a page has open is in use, even when quiet
    c.MappingKernelManager.cull_interval = max(1, min(300, _kernel_idle_timeout // 5))

# Defaults over JupyterLab's own (lab/settings/overrides.json: no news feed nor update check, which would ask every
# new user and fetch from the internet). JupyterLab reads overrides only from its application settings folder, so
# that folder is moved here: the environment's own (<prefix>/share/jupyter/lab/settings) holds nothing.
c.LabApp.app_settings_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "jupyter_data",
                                         "lab", "settings")
