// Progress view: the bar's width follows value/total with a CSS transition; no total means indeterminate.

function formatNumber(value) {
  return Number.isInteger(value) ? value.toLocaleString() : value.toLocaleString(undefined, { maximumFractionDigits: 1 });
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "pw-progress";
  root.innerHTML = `
    <div class="pw-progress-head"><span class="pw-progress-label"></span><span class="pw-progress-figure"></span></div>
    <div class="pw-progress-track" role="progressbar" aria-valuemin="0" aria-valuemax="100">
      <div class="pw-progress-fill"></div>
    </div>
    <div class="pw-progress-message" aria-live="polite"></div>`;
  el.append(root);
  const label = root.querySelector(".pw-progress-label");
  const figure = root.querySelector(".pw-progress-figure");
  const track = root.querySelector(".pw-progress-track");
  const fill = root.querySelector(".pw-progress-fill");
  const message = root.querySelector(".pw-progress-message");

  function paint() {
    const value = model.get("value");
    const total = model.get("total");
    const state = model.get("state");
    const known = total != null;
    const percent = known ? Math.min(100, (100 * value) / total) : null;
    root.dataset.state = state;
    root.classList.toggle("pw-progress-indeterminate", !known && state === "running");
    label.textContent = model.get("label");
    track.setAttribute("aria-label", model.get("label") || "Progress");
    if (known) {
      track.setAttribute("aria-valuenow", String(Math.round(percent)));
      figure.textContent = `${formatNumber(value)} / ${formatNumber(total)} · ${Math.floor(percent)}%`;
    } else {
      track.removeAttribute("aria-valuenow");
      figure.textContent = value > 0 ? formatNumber(value) : "";
    }
    // Success fills the bar; an error keeps the bar where the run stopped (or full if that was unknown).
    const width = state === "success" || (!known && state === "error") ? 100 : known ? percent : null;
    fill.style.width = width === null ? "" : `${width}%`;
    message.textContent = model.get("message");
    message.setAttribute("role", state === "error" ? "alert" : "status");
  }

  const names = ["value", "total", "state", "message", "label"];
  for (const name of names) model.on(`change:${name}`, paint);
  paint();
  return () => { for (const name of names) model.off(`change:${name}`, paint); };
}

export default { render };
