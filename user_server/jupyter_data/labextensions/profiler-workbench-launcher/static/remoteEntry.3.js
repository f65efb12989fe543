/*
 * The launcher's "Profiler" section and the notebooks' "Publish" button, as a prebuilt JupyterLab extension written
 * by hand: a module-federation container (what a built extension's remoteEntry is) holding two plugins, so that it
 * needs no build step and no package beyond JupyterLab. Its dependencies come from the share scope JupyterLab hands
 * to init(), where @jupyterlab/launcher, @jupyterlab/notebook and @jupyterlab/apputils are the very modules (and
 * ILauncher, INotebookTracker and ICommandPalette tokens) the application uses. Every one of them is optional: Voila's
 * pages load every extension too, share no launcher and provide none of these tokens; there the launcher's plugin is
 * left out and the publish one adds nothing (a page without `hubPrefix`).
 *
 * The dashboards listed are the hub's manifest, put into the page configuration as `workbenchDashboards` by
 * user_server/jupyter_config/jupyter_server_config.py. Each opens in Voila in a new tab, as from the hub's home.
 *
 * "Publish as a dashboard…" (command profiler-workbench:publish-notebook, a "Publish" button on every notebook's
 * toolbar, and the command palette's "Profiler" category) opens the hub's home page in a new tab with
 * ?publish=<the notebook's path in the user's home>, which fills in the home page's form to publish a snapshot of
 * it. It is enabled only while the current widget is a notebook (the button passes the path of the notebook it
 * sits on), and does nothing off a hub (no `hubPrefix` in the page configuration).
 *
 * Browsers cache this file by its name: change the name (and package.json's "load") with every change.
 */
(function () {
  "use strict";
  const NAME = "profiler-workbench-launcher";
  const CATEGORY = "Profiler";
  const OPEN = "profiler-workbench:open-dashboard";
  const HOME = "profiler-workbench:open-home";
  const PUBLISH = "profiler-workbench:publish-notebook";
  const PUBLISH_CAPTION = "Publish a snapshot of this notebook as a dashboard others can open (on the hub's home page)";
  let shareScope = null;

  // The newest version the application registered of a shared package, or null where it shares none (Voila's
  // pages load every extension too, and have no launcher) or it fails to load (then only what needs it is left out).
  async function shared(name) {
    const versions = shareScope && shareScope[name];
    if (!versions) return null;
    const newest = Object.keys(versions).sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).pop();
    const entry = versions[newest];
    try {
      const factory = await entry.get();
      entry.loaded = 1;
      return factory();
    } catch (error) {
      console.warn(NAME + ": the shared package " + name + " did not load", error);
      return null;
    }
  }

  function pageConfig() {
    const element = document.getElementById("jupyter-config-data");
    return element ? JSON.parse(element.textContent || "{}") : {};
  }

  function launcherPlugin(launcherModule, icons) {
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

  // The notebook a widget shows, as a path in the user's home (the server's root), or null if it is no notebook.
  function notebookPath(app, widget) {
    const context = widget && widget.context;
    const path = context && typeof context.path === "string" ? context.path : "";
    const contents = app.serviceManager && app.serviceManager.contents;
    const local = contents && typeof contents.localPath === "function" ? contents.localPath(path) : path;
    return /\.ipynb$/i.test(local) ? local : null;
  }

  function publishPlugin(notebookModule, apputils, ui) {
    const optional = [];
    if (notebookModule && notebookModule.INotebookTracker) optional.push(notebookModule.INotebookTracker);
    if (apputils && apputils.ICommandPalette) optional.push(apputils.ICommandPalette);
    return {
      id: NAME + ":publish",
      description: "Publish as a dashboard: opens the hub's home page with its publish form filled in for the notebook.",
      autoStart: true,
      optional,
      activate(app, ...provided) {
        const tracker = notebookModule && notebookModule.INotebookTracker ? provided.shift() : null;
        const palette = apputils && apputils.ICommandPalette ? provided.shift() : null;
        const config = pageConfig();
        if (!config.hubPrefix || !app.commands) return; // not under a hub: there is no home page to publish from
        const current = () => {
          const widget = app.shell && app.shell.currentWidget;
          if (tracker) return tracker.currentWidget && tracker.currentWidget === widget ? widget : null;
          return widget;
        };
        const pathOf = (args) => (args && typeof args.path === "string" && args.path ? args.path
          : notebookPath(app, current()));
        app.commands.addCommand(PUBLISH, {
          label: "Publish as a dashboard\u2026",
          caption: PUBLISH_CAPTION,
          icon: ui && ui.launchIcon,
          isEnabled: (args) => pathOf(args) !== null,
          execute: (args) => {
            const path = pathOf(args);
            if (!path) return;
            const home = new URL(config.hubPrefix + "home?publish=" + encodeURIComponent(path),
              config.hubHost || location.href);
            window.open(home.href, "_blank", "noopener");
          },
        });
        const changed = () => app.commands.notifyCommandChanged(PUBLISH);
        if (tracker) tracker.currentChanged.connect(changed);
        if (app.shell && app.shell.currentChanged) app.shell.currentChanged.connect(changed);
        if (palette) palette.addItem({ command: PUBLISH, category: CATEGORY });
        if (ui && ui.ToolbarButton && app.docRegistry) {
          app.docRegistry.addWidgetExtension("Notebook", {
            createNew(panel) {
              const button = new ui.ToolbarButton({
                label: "Publish",
                tooltip: PUBLISH_CAPTION,
                className: "workbench-publish",
                onClick: () => {
                  const path = notebookPath(app, panel);
                  if (path) void app.commands.execute(PUBLISH, { path });
                },
              });
              if (!panel.toolbar.insertAfter("spacer", "workbench-publish", button)) {
                panel.toolbar.addItem("workbench-publish", button);
              }
              return button;
            },
          });
        }
      },
    };
  }

  const container = {
    init(scope) {
      shareScope = shareScope || scope;
    },
    async get(module) {
      if (module !== "./extension") throw new Error(NAME + " has no module " + module);
      const [launcherModule, ui, notebookModule, apputils] = await Promise.all([
        shared("@jupyterlab/launcher"),
        shared("@jupyterlab/ui-components"),
        shared("@jupyterlab/notebook"),
        shared("@jupyterlab/apputils"),
      ]);
      const plugins = [publishPlugin(notebookModule, apputils, ui)];
      if (launcherModule) plugins.unshift(launcherPlugin(launcherModule, ui));
      const exports = { __esModule: true, default: plugins };
      return () => exports;
    },
  };
  window._JUPYTERLAB = window._JUPYTERLAB || {};
  window._JUPYTERLAB[NAME] = container;
})();
