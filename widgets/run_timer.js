// RunTimer view: shows now - started_at (corrected for the kernel's clock), or the final duration.

const REPAINT_MS = 100;

export function formatDuration(seconds) {
  const total = Math.max(0, seconds);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  if (hours > 0) {
    const wholeSeconds = Math.floor(total % 60);
    return `${hours}:${String(minutes).padStart(2, "0")}:${String(wholeSeconds).padStart(2, "0")}`;
  }
  const tenths = Math.floor(total * 10) % 600; // tenths of a second within the minute
  return `${minutes}:${String(Math.floor(tenths / 10)).padStart(2, "0")}.${tenths % 10}`;
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "pw-run-timer";
  root.style.fontVariantNumeric = "tabular-nums";
  const label = document.createElement("span");
  label.className = "pw-run-timer-label";
  const value = document.createElement("time");
  value.className = "pw-run-timer-value";
  value.style.fontWeight = "600";
  value.style.marginLeft = "0.4em";
  root.setAttribute("role", "timer");
  root.append(label, value);
  el.append(root);

  let kernelMinusBrowser = 0; // seconds; measured once per view
  let interval = 0;
  const request = `clock-${Math.random().toString(36).slice(2)}`;
  const askedAt = Date.now();

  function paint() {
    const start = model.get("started_at");
    const end = model.get("ended_at");
    let state;
    let seconds = null;
    if (start == null) {
      state = "idle";
      label.textContent = model.get("label");
      value.textContent = "—";
    } else if (end != null) {
      state = "finished";
      seconds = end - start;
      label.textContent = "Finished in";
    } else {
      state = "running";
      seconds = Date.now() / 1000 + kernelMinusBrowser - start;
      label.textContent = model.get("label");
    }
    if (seconds !== null) {
      value.textContent = formatDuration(seconds);
      value.dateTime = `PT${Math.max(0, seconds).toFixed(1)}S`;
    }
    root.dataset.state = state;
    const running = state === "running";
    if (running && !interval) interval = setInterval(paint, REPAINT_MS);
    if (!running && interval) { clearInterval(interval); interval = 0; }
  }

  function onMessage(msg) {
    if (msg.type !== "clock" || msg.request !== request) return;
    const answeredAt = Date.now();
    kernelMinusBrowser = msg.now - (askedAt + answeredAt) / 2000;
    paint();
  }

  // A tab coming back from the background repaints at once instead of waiting for the next tick.
  const wake = () => { if (!document.hidden) paint(); };
  document.addEventListener("visibilitychange", wake);
  document.addEventListener("resume", wake);
  model.on("msg:custom", onMessage);
  model.on("change:started_at change:ended_at change:label", paint);
  model.send({ type: "clock?", request });
  paint();

  return () => {
    clearInterval(interval);
    document.removeEventListener("visibilitychange", wake);
    document.removeEventListener("resume", wake);
    model.off("msg:custom", onMessage);
    model.off("change:started_at change:ended_at change:label", paint);
  };
}

export default { render };
