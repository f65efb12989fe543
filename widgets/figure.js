// Figure front end: each widget draws its figure and redraws it whenever Python sets a new one. plotly.js is
// fetched only when a figure has data to draw, never for an empty one, so opening a dashboard whose charts wait
// for a run costs no chart library at all.
//
// Where the library comes from: the user's server serves plotly's "basic" bundle (bar, pie and scatter traces;
// 1.2 MB against 4.8 MB for the whole library) as a static, cacheable file at `basic_library` below the page's
// base URL; a figure with any other trace type, or a page whose server does not serve that file (a plain
// JupyterLab elsewhere), asks its kernel for the whole library instead, once per page.
const TRANSPARENT = "rgba(0,0,0,0)";
const THEME_ATTRIBUTE = "data-jp-theme-light";
// the trace types plotly's basic bundle registers (its package's README)
const BASIC_TRACES = new Set(["bar", "pie", "scatter"]);
const LIBRARIES = "__workbenchPlotly";

// JupyterLab and Voila mark the theme on <body>; a page without the mark (a plain HTML export) counts as light.
function isDark() {
  return document.body.getAttribute(THEME_ATTRIBUTE) === "false";
}

function baseUrl() {
  const config = document.getElementById("jupyter-config-data");
  try {
    return (config && JSON.parse(config.textContent).baseUrl) || "/";
  } catch {
    return "/";
  }
}

function needsWholeLibrary(spec) {
  return (spec.data || []).some((trace) => !BASIC_TRACES.has(trace.type || "scatter"));
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
    script.onerror = () => reject(new Error(`plotly.js could not be fetched from ${src}`));
    document.head.append(script);
  });
}

function askKernel(model) {
  const request = `plotly-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      model.off("msg:custom", onReply);
      reject(new Error("the kernel did not send plotly.js"));
    }, 120000);
    function onReply(msg, buffers) {
      if (msg.type !== "library" || msg.request !== request) return;
      clearTimeout(timeout);
      model.off("msg:custom", onReply);
      const url = URL.createObjectURL(new Blob([buffers[0]], { type: "text/javascript" }));
      runScript(url).then(resolve, reject).finally(() => URL.revokeObjectURL(url));
    }
    model.on("msg:custom", onReply);
    model.send({ type: "library?", request });
  });
}

function library(model, whole) {
  const libraries = (globalThis[LIBRARIES] ??= {});
  const kind = whole ? "whole" : "basic";
  if (!libraries[kind]) {
    const loading = whole
      ? askKernel(model)
      : runScript(baseUrl() + model.get("basic_library")).catch(() => library(model, true));
    libraries[kind] = loading;
    loading.catch(() => { if (libraries[kind] === loading) delete libraries[kind]; });
  }
  return libraries[kind];
}

// An empty figure only warms the browser's cache for the bundle it will most likely need: downloading does not
// hold the page, running a 1.2 MB script does.
function prefetch(model) {
  const href = baseUrl() + model.get("basic_library");
  if (document.querySelector(`link[rel="prefetch"][href="${href}"]`)) return;
  const link = document.createElement("link");
  link.rel = "prefetch";
  link.href = href;
  document.head.append(link);
}

function render({ model, el }) {
  const plot = document.createElement("div");
  plot.className = "workbench-figure";
  el.append(plot);
  let drawnWith = null;
  let drawing = Promise.resolve();
  const draw = async () => {
    const spec = model.get("spec") || {};
    if (!spec.data) {
      prefetch(model);
      return;
    }
    let Plotly;
    try {
      Plotly = await library(model, needsWholeLibrary(spec));
    } catch (error) {
      plot.textContent = `The chart cannot be drawn: ${error.message}`;
      return;
    }
    if (drawnWith && drawnWith !== Plotly) drawnWith.purge(plot);
    drawnWith = Plotly;
    // transparent unless the figure says otherwise: a template's white or blue-grey slab would stand out on
    // whichever theme it was not made for
    const layout = {
      paper_bgcolor: TRANSPARENT,
      plot_bgcolor: TRANSPARENT,
      ...(spec.layout || {}),
      height: model.get("height"),
      autosize: true,
    };
    const dark = model.get("dark_template") || {};
    if (isDark() && Object.keys(dark).length) layout.template = dark;
    await Plotly.react(plot, spec.data, layout, { responsive: true, displaylogo: false });
  };
  // The chart's room is kept from the moment it has data, before plotly.js has arrived and drawn it: a page that
  // scrolled to a section below it after a run stays where it is.
  const reserve = () => {
    plot.style.minHeight = (model.get("spec") || {}).data ? `${model.get("height")}px` : "";
  };
  // one drawing at a time, in the order Python set the figures
  const redraw = () => {
    reserve();
    drawing = drawing.then(draw, draw);
  };
  redraw();
  model.on("change:spec", redraw);
  model.on("change:height", redraw);
  model.on("change:dark_template", redraw);
  // JupyterLab switches themes without reloading the page: it only rewrites the body's attribute
  const themeWatch = new MutationObserver(redraw);
  themeWatch.observe(document.body, { attributes: true, attributeFilter: [THEME_ATTRIBUTE] });
  return () => {
    themeWatch.disconnect();
    if (drawnWith) drawnWith.purge(plot);
  };
}

export default { render };
