// LiveGraph view: a uPlot chart that follows the newest data until the user moves it, then stays put.
//
// The kernel sends {type: "points" | "history" | "clear", seq, series, count} with float64 buffers
// (x first, then one per series). uPlot itself comes from the kernel once per page (see loadUPlot).
// "● Live" is shown only while the kernel says data is streaming (the `live` trait); otherwise the caption says
// what is on screen, and before the first point the empty text stands where the lines will be.

const LIBRARY = Symbol.for("profiler-workbench.live-graph.uplot");
// The view counts as "at the end" when its right edge is within this fraction of its width of the newest x.
const END_THRESHOLD = 0.02;
const DRAG_START_PIXELS = 3;
const WHEEL_SETTLE_MS = 250;
const PRESETS = [["1 min", 60], ["5 min", 300], ["15 min", 900], ["All", 0]];
// Red comes last: it is the colour people give errors themselves.
const PALETTE = ["#2563eb", "#16a34a", "#f59e0b", "#7c3aed", "#0891b2", "#db2777", "#4b5563", "#dc2626"];
// Whole seconds and the steps people count time in: ticks never land on fractions of a second.
const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
  172800, 604800];
// A tick label is ~8 characters: at most this many fit a typical plot without crowding, and a glance reads them.
const MAX_TICKS = 8;
const DAY = 86400;
// "{t:<epoch seconds>}" in a caption: shown in the viewer's clock, as the time axis is (the kernel's may differ).
const CAPTION_TIME = /\{t:(-?\d+(?:\.\d+)?)\}/g;

const pad = (value) => String(value).padStart(2, "0");

function clockTime(seconds) {
  const date = new Date(seconds * 1000);
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function calendarDay(seconds) {
  const date = new Date(seconds * 1000);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function elapsedTime(seconds) {
  const whole = Math.round(seconds);
  const sign = whole < 0 ? "-" : "";
  const total = Math.abs(whole);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = `${pad(total % 60)}`;
  return hours ? `${sign}${hours}:${pad(minutes)}:${rest}` : `${sign}${minutes}:${rest}`;
}

const numberFormats = [0, 1, 2].map((digits) => new Intl.NumberFormat(undefined,
  { minimumFractionDigits: digits, maximumFractionDigits: digits }));

// Three significant figures at most: legend values change every interval and extra digits are noise.
function formatValue(value) {
  const size = Math.abs(value);
  return numberFormats[size >= 100 || Number.isInteger(value) ? 0 : size >= 10 ? 1 : 2].format(value);
}

function asFloat64(buffer) {
  // Buffers are views into the websocket frame, not necessarily 8-byte aligned: copy before viewing.
  if (buffer instanceof ArrayBuffer) return new Float64Array(buffer);
  return new Float64Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength));
}

function loadUPlot(model) {
  if (!globalThis[LIBRARY]) {
    const request = `library-${Math.random().toString(36).slice(2)}`;
    const loading = new Promise((resolve, reject) => {
      const timeout = setTimeout(() => {
        model.off("msg:custom", onReply);
        reject(new Error("the kernel did not send the chart library"));
      }, 60000);
      async function onReply(msg, buffers) {
        if (msg.type !== "library" || msg.request !== request) return;
        clearTimeout(timeout);
        model.off("msg:custom", onReply);
        const decoder = new TextDecoder();
        const style = document.createElement("style");
        style.dataset.profilerWorkbench = "uplot";
        style.textContent = decoder.decode(buffers[1]);
        document.head.append(style);
        const source = new Blob([decoder.decode(buffers[0]), "\nexport default uPlot;\n"], { type: "text/javascript" });
        const url = URL.createObjectURL(source);
        try {
          resolve((await import(url)).default);
        } catch (error) {
          reject(error);
        } finally {
          URL.revokeObjectURL(url);
        }
      }
      model.on("msg:custom", onReply);
      model.send({ type: "library?", request });
    });
    globalThis[LIBRARY] = loading;
    loading.catch(() => { if (globalThis[LIBRARY] === loading) delete globalThis[LIBRARY]; });
  }
  return globalThis[LIBRARY];
}

// Rows kept in the browser: x plus one column per series, null for gaps. Over maxPoints, the oldest rows
// are folded into min/max buckets, exactly as the kernel's BoundedHistory does with its copy.
class BoundedRows {
  constructor(columns, maxPoints) {
    this.maxPoints = Math.max(16, maxPoints);
    this.x = [];
    this.columns = Array.from({ length: columns }, () => []);
  }

  get length() { return this.x.length; }
  get first() { return this.x.length ? this.x[0] : null; }
  get last() { return this.x.length ? this.x[this.x.length - 1] : null; }
  data() { return [this.x, ...this.columns]; }

  add(x, columns) {
    for (let row = 0; row < x.length; row++) {
      this.x.push(x[row]);
      this.columns.forEach((column, index) => {
        const value = columns[index] ? columns[index][row] : NaN;
        column.push(Number.isNaN(value) ? null : value);
      });
    }
    if (this.x.length > this.maxPoints) this.compact();
  }

  compact() {
    const old = this.x.length - Math.floor(this.maxPoints / 2);
    const buckets = Math.max(1, Math.floor(this.maxPoints / 8));
    if (old <= 2 * buckets) return;
    const x = [];
    const columns = this.columns.map(() => []);
    for (let bucket = 0; bucket < buckets; bucket++) {
      const start = Math.floor((bucket * old) / buckets);
      const end = Math.floor(((bucket + 1) * old) / buckets);
      x.push(this.x[start], this.x[end - 1]);
      this.columns.forEach((column, index) => {
        let low = -1;
        let high = -1;
        for (let row = start; row < end; row++) {
          const value = column[row];
          if (value === null) continue;
          if (low < 0 || value < column[low]) low = row;
          if (high < 0 || value > column[high]) high = row;
        }
        if (low < 0) columns[index].push(null, null);
        else columns[index].push(column[Math.min(low, high)], column[Math.max(low, high)]);
      });
    }
    this.x = x.concat(this.x.slice(old));
    this.columns = this.columns.map((column, index) => columns[index].concat(column.slice(old)));
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function render({ model, el }) {
  const root = element("div", "pw-live-graph");
  const toolbar = element("div", "pw-lg-toolbar");
  const title = element("span", "pw-lg-title");
  const presets = element("div", "pw-lg-presets");
  presets.setAttribute("role", "group");
  presets.setAttribute("aria-label", "Time window");
  const status = element("span", "pw-lg-status", "Loading chart…");
  status.setAttribute("role", "status");
  const caption = element("span", "pw-lg-caption");
  const backToLive = element("button", "pw-lg-back", "Back to live");
  backToLive.type = "button";
  backToLive.hidden = true;
  backToLive.addEventListener("click", () => resume(null));
  const body = element("div", "pw-lg-body");
  const host = element("div", "pw-lg-chart");
  const empty = element("div", "pw-lg-empty", model.get("empty_text"));
  empty.hidden = !model.get("empty_text");
  body.style.minHeight = `${model.get("height")}px`; // the empty text holds the chart's place while it loads
  host.title = "Drag to pan · Ctrl+wheel or pinch to zoom · Shift+wheel to move in time · double-click: back to live";
  const presetButtons = PRESETS.map(([label, seconds]) => {
    const button = element("button", "pw-lg-preset", label);
    button.type = "button";
    button.dataset.seconds = String(seconds);
    button.addEventListener("click", () => {
      model.set("window", seconds);
      model.save_changes();
      resume(null);
    });
    presets.append(button);
    return button;
  });
  // The button comes before the status so a growing count never moves it under the user's pointer.
  toolbar.append(title, caption, backToLive, status, presets);
  body.append(host, empty);
  root.append(toolbar, body);
  el.append(root);

  let chart = null;
  let rows = null;
  let historySeq = null; // null until the kernel's history arrived; points up to it are already in it
  let historyRequest = null;
  let queued = [];
  let frame = 0;
  let drag = null;
  let wheelTimer = 0;
  // following: the x-range tracks the newest data; followWidth null means "the window preset".
  const view = { following: true, holding: false, followWidth: null, newWhilePaused: 0 };

  const specs = () => model.get("series");
  const columnIndex = () => new Map(specs().map((spec, index) => [spec.name, index]));

  function addRows(msg, buffers) {
    const index = columnIndex();
    const columns = new Array(specs().length);
    msg.series.forEach((name, position) => {
      if (index.has(name)) columns[index.get(name)] = asFloat64(buffers[position + 1]);
    });
    rows.add(asFloat64(buffers[0]), columns);
  }

  function onMessage(msg, buffers) {
    if (msg.type === "clear") {
      rows = new BoundedRows(specs().length, model.get("max_points"));
      if (historySeq !== null) historySeq = msg.seq;
      view.newWhilePaused = 0;
    } else if (msg.type === "history") {
      if (msg.request !== historyRequest) return;
      historyRequest = null;
      rows = new BoundedRows(specs().length, model.get("max_points"));
      addRows(msg, buffers);
      historySeq = msg.seq;
      for (const [early, earlyBuffers] of queued) if (early.seq > historySeq) addRows(early, earlyBuffers);
      queued = [];
    } else if (msg.type === "points") {
      if (historySeq === null) { queued.push([msg, buffers]); return; }
      if (msg.seq <= historySeq) return;
      addRows(msg, buffers);
      if (!view.following) view.newWhilePaused += msg.count;
    } else {
      return;
    }
    schedule();
  }

  function requestHistory() {
    historySeq = null;
    queued = [];
    rows = new BoundedRows(specs().length, model.get("max_points"));
    historyRequest = `history-${Math.random().toString(36).slice(2)}`;
    model.send({ type: "history?", request: historyRequest });
  }

  function followRange() {
    if (!rows || rows.length === 0) return null;
    const newest = rows.last;
    const width = view.followWidth ?? model.get("window");
    const oldest = width > 0 ? newest - width : rows.first;
    return newest > oldest ? [oldest, newest] : [newest - 1, newest];
  }

  function setView(min, max) {
    chart.setScale("x", { min, max });
  }

  function draw() {
    frame = 0;
    if (!chart) return;
    chart.setData(rows.data(), false); // false: never let new data move the x-range by itself
    const range = view.following && !view.holding ? followRange() : null;
    if (range) setView(range[0], range[1]);
    showLatest(chart);
    showState();
  }

  function showLatest(u) {
    // Without a pointer on the plot the legend reads the newest values, as a live dashboard's legend does:
    // each series its own newest, since series sampled at other times (compared runs) have gaps at the end.
    if (u.cursor.left >= 0 || !rows || rows.length === 0) return;
    const last = rows.length - 1;
    const idxs = [last, ...rows.columns.map((column) => {
      let row = last;
      while (row > 0 && column[row] === null) row--;
      return row;
    })];
    const shown = u.legend.idxs;
    if (shown && shown.length === idxs.length && idxs.every((idx, index) => shown[index] === idx)) return;
    u.setLegend({ idxs });
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  function showState() {
    if (!chart) return; // until then the status says the chart is loading, or why it could not
    const points = rows ? rows.length : 0;
    const live = model.get("live") && points > 0;
    root.dataset.following = String(view.following);
    root.dataset.points = String(points);
    root.dataset.newPoints = String(view.newWhilePaused);
    root.dataset.live = String(live);
    const count = view.newWhilePaused;
    status.hidden = !live;
    status.textContent = !live ? "" : view.following ? "● Live" : `Paused · ${count} new point${count === 1 ? "" : "s"}`;
    status.classList.toggle("pw-lg-paused", !view.following);
    backToLive.hidden = view.following;
    backToLive.textContent = live ? "Back to live" : "Reset view";
    caption.textContent = model.get("caption").replace(CAPTION_TIME, (_, seconds) => clockTime(Number(seconds)));
    caption.hidden = !model.get("caption");
    empty.textContent = model.get("empty_text");
    empty.hidden = points > 0 || !model.get("empty_text");
    const windowSeconds = model.get("window");
    for (const button of presetButtons) {
      button.setAttribute("aria-pressed", String(Number(button.dataset.seconds) === windowSeconds));
    }
  }

  function publishScales(u) {
    // The visible ranges, for anyone reading the page (tests, screen readers via the status line).
    for (const key of ["x", "y", "y2"]) {
      const scale = u.scales[key];
      if (!scale || scale.min == null) continue;
      root.dataset[`${key}Min`] = String(scale.min);
      root.dataset[`${key}Max`] = String(scale.max);
    }
  }

  function pause() {
    if (view.following) {
      view.following = false;
      view.newWhilePaused = 0;
    }
    showState();
  }

  function resume(width) {
    view.following = true;
    view.holding = false;
    view.followWidth = width;
    view.newWhilePaused = 0;
    schedule();
  }

  function resumeIfAtEnd() {
    const { min, max } = chart.scales.x;
    if (rows.length && max >= rows.last - END_THRESHOLD * (max - min)) resume(max - min);
    else showState();
  }

  function xTicks(u, splits, axisIndex, space, step) {
    const clock = model.get("x_axis") === "clock";
    const labels = splits.map((x) => (!clock ? elapsedTime(x) : step >= DAY ? calendarDay(x) : clockTime(x)));
    // Axis labels are drawn on a canvas: the page keeps the text for tests and assistive tools.
    root.dataset.xTicks = labels.join(" ");
    return labels;
  }

  function buildChart(uPlot) {
    if (chart) chart.destroy();
    const series = specs();
    const hasY2 = series.some((spec) => spec.axis === "y2");
    const clock = model.get("x_axis") === "clock";
    // Canvas text does not inherit CSS: the axes read the widget's text colour at each draw, so they stay
    // readable when the page's theme changes.
    const ink = () => getComputedStyle(host).color || "#1f2937";
    const axisStyle = { stroke: ink, grid: { stroke: "rgba(128,128,128,0.18)" } };
    chart = new uPlot(
      {
        width: Math.max(320, host.clientWidth || 640),
        height: model.get("height"),
        scales: { x: { time: clock }, y: { auto: true }, ...(hasY2 ? { y2: { auto: true } } : {}) },
        series: [
          {
            label: clock ? "time" : "elapsed",
            value: (u, x) => (x == null ? "—" : clock ? clockTime(x) : elapsedTime(x)),
          },
          ...series.map((spec, index) => ({
            label: spec.label,
            scale: spec.axis,
            stroke: spec.color || PALETTE[index % PALETTE.length],
            width: 1.5,
            spanGaps: Boolean(spec.connect),
            value: (u, value) => (value == null ? "—" : `${formatValue(value)}${spec.unit ? ` ${spec.unit}` : ""}`),
          })),
        ],
        axes: [
          {
            ...axisStyle,
            incrs: TICK_STEPS,
            space: (u, axisIndex, min, max, plotSize) => Math.max(60, plotSize / (MAX_TICKS - 1)),
            values: xTicks,
          },
          { ...axisStyle, scale: "y", label: model.get("y_label") || undefined },
          ...(hasY2 ? [{ ...axisStyle, scale: "y2", side: 1, label: model.get("y2_label") || undefined, grid: { show: false } }] : []),
        ],
        cursor: { drag: { x: false, y: false, setScale: false } },
        hooks: { setScale: [publishScales], setLegend: [showLatest] },
      },
      rows.data(),
      host,
    );
    attachInteractions(chart.over);
  }

  function attachInteractions(over) {
    over.style.touchAction = "none";
    over.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      const { min, max } = chart.scales.x;
      drag = { startX: event.clientX, min, max, moved: false };
      view.holding = true; // from the first touch, data arriving must not shift what is under the pointer
      over.setPointerCapture(event.pointerId);
    });
    over.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const dx = event.clientX - drag.startX;
      if (!drag.moved && Math.abs(dx) < DRAG_START_PIXELS) return;
      if (!drag.moved) { drag.moved = true; pause(); }
      const shift = (-dx * (drag.max - drag.min)) / over.getBoundingClientRect().width;
      setView(drag.min + shift, drag.max + shift);
    });
    const endDrag = () => {
      if (!drag) return;
      const moved = drag.moved;
      drag = null;
      view.holding = false;
      if (moved) resumeIfAtEnd();
      else schedule();
    };
    over.addEventListener("pointerup", endDrag);
    over.addEventListener("pointercancel", endDrag);
    over.addEventListener("dblclick", () => resume(null));
    over.addEventListener("wheel", (event) => {
      const horizontal = event.shiftKey || Math.abs(event.deltaX) > Math.abs(event.deltaY);
      const zoom = event.ctrlKey || event.metaKey;
      if (!horizontal && !zoom) return; // a plain wheel keeps scrolling the page
      event.preventDefault();
      const { min, max } = chart.scales.x;
      const width = max - min;
      pause();
      if (zoom && !horizontal) {
        const factor = Math.exp(event.deltaY * 0.002);
        const anchor = chart.posToVal(event.offsetX, "x");
        setView(anchor - (anchor - min) * factor, anchor + (max - anchor) * factor);
      } else {
        const delta = Math.abs(event.deltaX) > Math.abs(event.deltaY) ? event.deltaX : event.deltaY;
        const shift = (delta / over.getBoundingClientRect().width) * width;
        setView(min + shift, max + shift);
      }
      clearTimeout(wheelTimer);
      wheelTimer = setTimeout(resumeIfAtEnd, WHEEL_SETTLE_MS);
    }, { passive: false });
  }

  const onTitle = () => { title.textContent = model.get("title"); title.hidden = !model.get("title"); };
  const onWindow = () => { if (view.following) { view.followWidth = null; schedule(); } showState(); };
  const onHeight = () => chart && chart.setSize({ width: chart.width, height: model.get("height") });
  let uPlotClass = null;
  const onShape = () => { if (uPlotClass) { requestHistory(); buildChart(uPlotClass); schedule(); } };
  const onCaption = () => showState();
  model.on("msg:custom", onMessage);
  model.on("change:title", onTitle);
  model.on("change:window", onWindow);
  model.on("change:height", onHeight);
  model.on("change:series", onShape);
  model.on("change:y_label", onShape);
  model.on("change:y2_label", onShape);
  model.on("change:x_axis", onShape);
  for (const name of ["live", "caption", "empty_text"]) model.on(`change:${name}`, onCaption);
  onTitle();

  const resizer = new ResizeObserver(() => {
    const width = host.clientWidth;
    if (chart && width > 0 && Math.abs(width - chart.width) > 1) chart.setSize({ width, height: model.get("height") });
  });
  resizer.observe(host);
  // JupyterLab switches themes by rewriting the body's attribute; redraw so the axes take the new text colour
  const themeWatch = new MutationObserver(() => chart && chart.redraw(false, true));
  themeWatch.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });

  requestHistory();
  try {
    uPlotClass = await loadUPlot(model);
    buildChart(uPlotClass);
    schedule();
  } catch (error) {
    status.textContent = `Chart unavailable: ${error.message}`;
  }

  return () => {
    resizer.disconnect();
    themeWatch.disconnect();
    cancelAnimationFrame(frame);
    clearTimeout(wheelTimer);
    model.off("msg:custom", onMessage);
    model.off("change:title", onTitle);
    model.off("change:window", onWindow);
    model.off("change:height", onHeight);
    model.off("change:series", onShape);
    model.off("change:y_label", onShape);
    model.off("change:y2_label", onShape);
    model.off("change:x_axis", onShape);
    for (const name of ["live", "caption", "empty_text"]) model.off(`change:${name}`, onCaption);
    if (chart) chart.destroy();
  };
}

export default { render };
