// LearnMore front end: a button and a native modal <dialog>, with the behaviour <dialog> does not give.

const FOCUSABLE = [
  "a[href]", "area[href]", "button:not([disabled])", "input:not([disabled]):not([type=hidden])",
  "select:not([disabled])", "textarea:not([disabled])", "iframe", "audio[controls]", "video[controls]",
  "[contenteditable]:not([contenteditable=false])", "[tabindex]:not([tabindex='-1'])",
].join(",");

function focusables(dialog) {
  return [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
}

function whenConnected(el, action, framesLeft = 300) {
  // A view is rendered before it is attached; showModal() needs a dialog that is in the document.
  if (el.isConnected) action();
  else if (framesLeft > 0) requestAnimationFrame(() => whenConnected(el, action, framesLeft - 1));
}

function render({ model, el }) {
  // Each widget may get its own copy of this module, so the counter lives on the page, not in the module:
  // two dialogs sharing an id would share one accessible name.
  const id = `learn-more-${(globalThis.__workbenchLearnMoreCount = (globalThis.__workbenchLearnMoreCount ?? 0) + 1)}`;
  el.classList.add("lm");
  el.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab: Esc and Tab are ours while open
  el.innerHTML = `
    <button type="button" class="lm-button" aria-haspopup="dialog" aria-controls="${id}"></button>
    <dialog class="lm-dialog" id="${id}" role="dialog" aria-modal="true"
            aria-labelledby="${id}-title" aria-describedby="${id}-body">
      <div class="lm-panel">
        <header class="lm-header">
          <h2 class="lm-title" id="${id}-title"></h2>
          <button type="button" class="lm-close" aria-label="Close">×</button>
        </header>
        <div class="lm-body" id="${id}-body"></div>
      </div>
    </dialog>`;
  const button = el.querySelector(".lm-button");
  const dialog = el.querySelector(".lm-dialog");
  const update = () => {
    button.textContent = model.get("label");
    el.querySelector(".lm-title").textContent = model.get("title");
    el.querySelector(".lm-body").innerHTML = model.get("_html");
  };

  const setOpen = (open) => {
    if (model.get("is_open") !== open) {
      model.set("is_open", open);
      model.save_changes();
    }
  };
  const open = () => {
    if (dialog.open || !el.isConnected) return;
    dialog.showModal();
    (focusables(dialog)[0] || dialog).focus();
    setOpen(true);
  };
  const close = () => {
    if (dialog.open) dialog.close(); // the "close" event below does the rest
  };
  dialog.addEventListener("close", () => {
    button.focus();
    setOpen(false);
  });

  button.addEventListener("click", open);
  el.querySelector(".lm-close").addEventListener("click", close);
  dialog.addEventListener("click", (event) => {
    // The panel fills the dialog, so a click whose target is the dialog itself landed on the backdrop.
    if (event.target === dialog) close();
  });
  dialog.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      close();
    } else if (event.key === "Tab") {
      const items = focusables(dialog);
      if (!items.length) {
        event.preventDefault();
        return;
      }
      const first = items[0];
      const last = items[items.length - 1];
      const inside = dialog.contains(document.activeElement);
      if (event.shiftKey && (document.activeElement === first || !inside)) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
        event.preventDefault();
        first.focus();
      }
      event.stopPropagation();
    }
  });
  // Esc handled on the dialog never reaches the notebook; other keys typed inside stay inside too.
  dialog.addEventListener("keyup", (event) => event.stopPropagation());

  const onOpenChange = () => (model.get("is_open") ? open() : close());
  update();
  model.on("change:label change:title change:_html", update);
  model.on("change:is_open", onOpenChange);
  if (model.get("is_open")) whenConnected(el, open);
  return () => {
    model.off("change:label change:title change:_html", update);
    model.off("change:is_open", onOpenChange);
    if (dialog.open) dialog.close();
  };
}

export default { render };
