/*
 * The launcher's "Profiler" section, as a prebuilt JupyterLab extension written by hand: a module-federation
 * container (what a built extension's remoteEntry is) holding one plugin, so that it needs no build step and no
 * package beyond JupyterLab. Its dependencies come from the share scope JupyterLab hands to init(), where
 * @jupyterlab/launcher is the very module (and ILauncher token) the application uses.
 *
 * The dashboards listed are the hub's manifest, put into the page configuration as `workbenchDashboards` by
 * user_server/jupyter_config/jupyter_server_config.py. Each opens in Voila in a new tab, as from the hub's home.
 *
 * Browsers cache this file by its name: change the name (and package.json's "load") with every change.
 */
(function () {
  "use strict";
  const NAME = "profiler-workbench-launcher";
  const CATEGORY = "Profiler";
  const OPEN = "profiler-workbench:open-dashboard";
  const HOME = "profiler-workbench:open-home";
  let shareScope = null;

  // The newest version the application registered of a shared package, or null where it shares none (Voila's
  // pages load every extension too, and have no launcher).
  async function shared(name) {
    const versions = shareScope && shareScope[name];
    if (!versions) return null;
    const newest = Object.keys(versions).sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
    const entry = versions[newest];
    const factory = await entry.get();
    entry.loaded = 1;
    return factory();
  }

  function pageConfig() {
    const element = document.getElementById("jupyter-config-data");
    return element ? JSON.parse(element.textContent || "{}") : {};
  }

  function plugin(launcherModule, icons) {
    return {
      id: NAME + ":plugin",
      description: "The launcher's Profiler section: the workbench's dashboards and its home page.",
      autoStart: true,
      optional: [launcherModule.ILauncher],
      activate(app, launcher) {
        if (!launcher) return; // Notebook 7's pages have no launcher
        const config = pageConfig();
        const dashboards = Array.isArray(config.workbenchDashboards) ? config.workbenchDashboards : [];
        const serverUrl = new URL(config.baseUrl || "/", location.href);
        app.commands.addCommand(OPEN, {
          label: (args) => args.title || args.notebook || "Dashboard",
          caption: (args) => args.description || "",
          icon: icons && icons.launchIcon,
          execute: (args) => {
            const notebook = encodeURIComponent(String(args.notebook));
            window.open(new URL("voila/render/dashboards/" + notebook, serverUrl).href, "_blank", "noopener");
          },
        });
        app.commands.addCommand(HOME, {
          label: "Workbench home",
          caption: "The hub's home page: the dashboards, those shared with you, and your published ones",
          icon: icons && icons.homeIcon,
          execute: () => {
            const hub = new URL(config.hubPrefix + "home", config.hubHost || location.href);
            window.open(hub.href, "_blank", "noopener");
          },
        });
        dashboards.forEach((dashboard, rank) =>
          launcher.add({ command: OPEN, args: { ...dashboard }, category: CATEGORY, rank }));
        if (config.hubPrefix) launcher.add({ command: HOME, category: CATEGORY, rank: dashboards.length });
      },
    };
  }

  const container = {
    init(scope) {
      shareScope = shareScope || scope;
    },
    async get(module) {
      if (module !== "./extension") throw new Error(NAME + " has no module " + module);
      const launcherModule = await shared("@jupyterlab/launcher");
      const icons = launcherModule && (await shared("@jupyterlab/ui-components"));
      const exports = { __esModule: true, default: launcherModule ? [plugin(launcherModule, icons)] : [] };
      return () => exports;
    },
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = container;
})();
