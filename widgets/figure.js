// Figure front end: plotly.js arrives once per page (asked from the first widget's kernel side), then each
// widget draws its figure and redraws it whenever Python sets a new one.
const LIBRARY = "__workbenchPlotly";
const TRANSPARENT = "rgba(0,0,0,0)";
const THEME_ATTRIBUTE = "data-jp-theme-light";

// JupyterLab and Voila mark the theme on <body>; a page without the mark (a plain HTML export) counts as light.
function isDark() {
  return document.body.getAttribute(THEME_ATTRIBUTE) === "false";
}

function loadPlotly(model) {
  if (!globalThis[LIBRARY]) {
    const request = `plotly-${Math.random().toString(36).slice(2)}`;
    const loading = new Promise((resolve, reject) => {
      const timeout = setTimeout(() => {
        model.off("msg:custom", onReply);
        reject(new Error("the kernel did not send plotly.js"));
      }, 120000);
      function onReply(msg, buffers) {
        if (msg.type !== "library" || msg.request !== request) return;
        clearTimeout(timeout);
        model.off("msg:custom", onReply);
        // plotly.min.js is a classic script that defines window.Plotly
        const url = URL.createObjectURL(new Blob([buffers[0]], { type: "text/javascript" }));
        const script = document.createElement("script");
        script.src = url;
        script.onload = () => { URL.revokeObjectURL(url); resolve(globalThis.Plotly); };
        script.onerror = () => { URL.revokeObjectURL(url); reject(new Error("plotly.js failed to load")); };
        document.head.append(script);
      }
      model.on("msg:custom", onReply);
      model.send({ type: "library?", request });
    });
    globalThis[LIBRARY] = loading;
    loading.catch(() => { if (globalThis[LIBRARY] === loading) delete globalThis[LIBRARY]; });
  }
  return globalThis[LIBRARY];
}

async function render({ model, el }) {
  const plot = document.createElement("div");
  plot.className = "workbench-figure";
  el.append(plot);
  let Plotly;
  try {
    Plotly = await loadPlotly(model);
  } catch (error) {
    plot.textContent = `The chart cannot be drawn: ${error.message}`;
    return;
  }
  const draw = () => {
    const spec = model.get("spec") || {};
    if (!spec.data) return;
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
    Plotly.react(plot, spec.data, layout, { responsive: true, displaylogo: false });
  };
  draw();
  model.on("change:spec", draw);
  model.on("change:height", draw);
  model.on("change:dark_template", draw);
  // JupyterLab switches themes without reloading the page: it only rewrites the body's attribute
  const themeWatch = new MutationObserver(draw);
  themeWatch.observe(document.body, { attributes: true, attributeFilter: [THEME_ATTRIBUTE] });
  return () => {
    themeWatch.disconnect();
    Plotly.purge(plot);
  };
}

export default { render };
