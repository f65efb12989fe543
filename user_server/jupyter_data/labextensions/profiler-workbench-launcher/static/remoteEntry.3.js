/*
 * The launcher's "Profiler" section, the notebooks' "Publish" button and a light renderer of plotly figures for
 * Voila's pages, as a prebuilt JupyterLab extension written by hand: a module-federation container (what a built
 * extension's remoteEntry is) holding two plugins ("./extension") and a mime renderer ("./mimeExtension"), so that
 * it needs no build step and no package beyond JupyterLab. Its dependencies come from the share scope JupyterLab
 * (or Voila) hands to init(), where @jupyterlab/launcher, @jupyterlab/notebook, @jupyterlab/apputils and
 * @lumino/widgets are the very modules (and ILauncher, INotebookTracker and ICommandPalette tokens) the application
 * uses. Every one of them is optional: Voila's pages load every extension too, share no launcher and provide none
 * of these tokens; there the launcher's plugin is left out and the publish one adds nothing (a page without
 * `hubPrefix`). Without @lumino/widgets there is no renderer either.
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
 * The renderer draws `fig.show()` output (application/vnd.plotly.v1+json) on Voila's pages only, where published
 * notebooks go without plotly's own renderer (user_server/voila_pages.py): that one is a 4.8 MB script whose run
 * and drawing made one main-thread task of 1.0-1.3 s as the page's widgets were coming up (the published report
 * of benchmarks/dashboard.py in Chromium). This one puts a
 * placeholder of the figure's height in the page and returns at once; it then fetches plotly's basic bundle (bar,
 * pie and scatter traces, 1.2 MB), or the whole library for any other trace type or when the basic one cannot be
 * fetched, once per page and shared by every figure (and by the Figure widget's charts, widgets/figure.js), as
 * static files of the user's server (the Voila template's, where `make install` copies both), and draws in a task
 * of its own. JupyterLab's and Notebook 7's pages get no renderer from here: there plotly's extension draws.
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

  const PLOTLY_MIME = "application/vnd.plotly.v1+json";
  // below the server's base URL: the workbench Voila template's static folder
  const PLOTLY_FOLDER = "voila/templates/workbench/static/plotly/";
  const BASIC_BUNDLE = "plotly-basic.min.js";
  const WHOLE_BUNDLE = "plotly.min.js";
  // the trace types plotly's basic bundle registers (its package's README)
  const BASIC_TRACES = new Set(["bar", "pie", "scatter"]);
  // The Figure widget's (widgets/figure.js) promises of plotly.js by kind, "basic" or "whole": a page showing both
  // kinds of chart runs each bundle once.
  const LIBRARIES = "__workbenchPlotly";
  // plotly's renderer's height for a figure that sets none: a figure looks the same drawn by either
  const DEFAULT_HEIGHT = 360;

  // Voila's pages say so in their configuration (voila/utils.py get_page_config); JupyterLab's and Notebook 7's
  // pages name their own application there.
  function onVoilaPage(config) {
    return String(config.appUrl || "").replace(/^\/+|\/+$/g, "") === "voila";
  }

  function needsWholeLibrary(figure) {
    const traces = [...(figure.data || []), ...(figure.frames || []).flatMap((frame) => (frame && frame.data) || [])];
    return traces.some((trace) => !BASIC_TRACES.has((trace && trace.type) || "scatter"));
  }

  // plotly's bundles are classic scripts that define window.Plotly; each is loaded into a fresh global once and
  // kept under its own name, so a page can hold both without one replacing the other under a drawn chart
  function runScript(src) {
    return new Promise((resolve, reject) => {
      const previous = globalThis.Plotly;
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => {
        const Plotly = globalThis.Plotly;
        globalThis.Plotly = previous ?? Plotly;
        Plotly ? resolve(Plotly) : reject(new Error("plotly.js did not load"));
      };
      script.onerror = () => reject(new Error("plotly.js could not be fetched from " + src));
      document.head.append(script);
    });
  }

  function plotlyLibrary(whole) {
    const libraries = (globalThis[LIBRARIES] = globalThis[LIBRARIES] || {});
    const kind = whole ? "whole" : "basic";
    if (!libraries[kind]) {
      const folder = new URL(PLOTLY_FOLDER, new URL(pageConfig().baseUrl || "/", location.href)).href;
      const loading = whole ? runScript(folder + WHOLE_BUNDLE)
        : runScript(folder + BASIC_BUNDLE).catch(() => plotlyLibrary(true));
      libraries[kind] = loading;
      loading.catch(() => { if (libraries[kind] === loading) delete libraries[kind]; });
    }
    return libraries[kind];
  }

  function plotlyMimeExtension(Widget) {
    class RenderedPlotly extends Widget {
      constructor(options) {
        super();
        this.addClass("workbench-RenderedPlotly");
        this._mimeType = options.mimeType;
        this._plot = document.createElement("div");
        this._plot.className = "workbench-plotly";
        this.node.append(this._plot);
        this._drawnWith = null;
        this._drawing = Promise.resolve();
        this._attached = new Promise((resolve) => { this._resolveAttached = resolve; });
      }

      // Returns before plotly.js is even fetched, with the chart's room kept so that nothing below it moves when
      // it is drawn: the cells after a chart (its controls) are what a viewer waits for.
      renderModel(model) {
        const figure = (model.data && model.data[this._mimeType]) || {};
        const layout = { ...(figure.layout || {}) };
        layout.height = layout.height || DEFAULT_HEIGHT;
        if (!this._drawnWith) this._plot.style.minHeight = layout.height + "px";
        const draw = () => this._draw(figure, layout);
        this._drawing = this._drawing.then(draw, draw);
        return Promise.resolve();
      }

      async _draw(figure, layout) {
        try {
          const Plotly = await plotlyLibrary(needsWholeLibrary(figure));
          // Voila attaches a renderer after renderModel: plotly sizes a chart to its node, which needs a page
          await this._attached;
          // A task of its own for drawing: run in the script's load event it made one main-thread task of
          // 296-420 ms with running the script (a Chromium trace of the published report's page: 154-209 ms
          // running plotly-basic.min.js, 142-211 ms drawing), and the kernel's widget messages waited behind it.
          await new Promise((resolve) => setTimeout(resolve, 0));
          if (this.isDisposed) return;
          if (this._drawnWith && this._drawnWith !== Plotly) this._drawnWith.purge(this._plot);
          this._drawnWith = Plotly;
          await Plotly.react(this._plot, {
            data: figure.data || [],
            layout,
            frames: figure.frames,
            config: { responsive: true, ...(figure.config || {}) },
          });
        } catch (error) {
          this._plot.textContent = "The chart cannot be drawn: " + (error && error.message);
        }
      }

      onAfterAttach(msg) {
        super.onAfterAttach(msg);
        this._resolveAttached();
      }

      dispose() {
        if (this.isDisposed) return;
        if (this._drawnWith) this._drawnWith.purge(this._plot);
        super.dispose();
      }
    }
    return {
      id: NAME + ":plotly",
      description: "Draws plotly figures (fig.show()) on Voila's pages with plotly.js fetched once per page.",
      rendererFactory: {
        safe: true,
        mimeTypes: [PLOTLY_MIME],
        createRenderer: (options) => new RenderedPlotly(options),
      },
      // Among the types of one output the lowest rank is drawn: below plotly's renderer's 2 and every standard
      // type's (HTML is 50). Between two renderers of one type the rank decides nothing (RenderMimeRegistry
      // keeps the one added last), see user_server/voila_pages.py.
      rank: 1,
    };
  }

  const container = {
    init(scope) {
      shareScope = shareScope || scope;
    },
    async get(module) {
      if (module === "./mimeExtension") {
        // none elsewhere: JupyterLab's pages keep plotly's renderer, which the notebooks there are made with
        const lumino = onVoilaPage(pageConfig()) ? await shared("@lumino/widgets") : null;
        const extensions = lumino && lumino.Widget ? [plotlyMimeExtension(lumino.Widget)] : [];
        const exports = { __esModule: true, default: extensions };
        return () => exports;
      }
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
