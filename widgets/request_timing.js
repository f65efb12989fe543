// RequestTiming view: the Server-Timing phases of this page's requests, from the Performance API.

function entriesWithServerTiming() {
  const navigation = performance.getEntriesByType("navigation");
  const resources = performance.getEntriesByType("resource").filter((e) => e.serverTiming && e.serverTiming.length);
  return [...navigation, ...resources].map((entry) => ({
    name: entry.name,
    duration_ms: Math.round(entry.duration * 10) / 10,
    server: Object.fromEntries((entry.serverTiming || []).map((m) => [m.name, Math.round(m.duration * 100) / 100])),
    description: Object.fromEntries((entry.serverTiming || []).map((m) => [m.name, m.description])),
  }));
}

function formatMs(ms) {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "pw-request-timing";
  root.style.cssText = "font-size: 0.9em; color: var(--jp-content-font-color2, #36506b); display: flex; flex-wrap: wrap; gap: 0.2em 0.8em;";
  el.append(root);

  function paint() {
    const entries = entriesWithServerTiming();
    root.replaceChildren();
    const page = entries[0];
    const title = document.createElement("strong");
    title.textContent = model.get("label") + ":";
    root.append(title);
    if (!page || !Object.keys(page.server).length) {
      root.append("this server sent no Server-Timing header.");
    } else {
      for (const [phase, ms] of Object.entries(page.server)) {
        const item = document.createElement("span");
        item.className = "pw-request-timing-phase";
        item.dataset.phase = phase;
        item.title = page.description[phase] || phase;
        item.textContent = `${phase} ${formatMs(ms)}`;
        if (phase === "total") item.style.fontWeight = "600";
        root.append(item);
      }
      const whole = document.createElement("span");
      whole.textContent = `· in the browser ${formatMs(page.duration_ms)} in all`;
      root.append(whole);
    }
    model.set("measured", entries.map(({ description, ...rest }) => rest));
    model.save_changes();
  }

  // The page's own entry is complete once it has loaded; Voila streams, so wait for that.
  if (document.readyState === "complete") paint();
  else window.addEventListener("load", paint, { once: true });
  const observer = new PerformanceObserver(() => paint());
  observer.observe({ type: "resource", buffered: false });
  return () => observer.disconnect();
}

export default { render };
