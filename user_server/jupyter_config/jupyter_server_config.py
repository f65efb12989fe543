# Every user's server runs with this configuration (the hub points JUPYTER_CONFIG_PATH here:
# spawner/user_server_files.py). Server extensions are enabled in jupyter_server_config.d/.
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
