// ScrollTo front end: no visible UI; scrolls the page to a section named by id or heading text.

const WAIT_FOR_TARGET_MS = 5000; // sections drawn by later cells may appear after the request
const KEEP_IN_VIEW_MS = 5000;
const USER_INPUT = ["wheel", "touchstart", "keydown", "pointerdown"];
const handled = new WeakMap(); // model -> last request seq carried out, shared by all views of a model

function normalise(text) {
  return text.replace(/¶/g, "").trim().toLowerCase().replace(/[\s_-]+/g, "-");
}

function findTarget(target) {
  const exact = document.getElementById(target);
  if (exact) return exact;
  const wanted = normalise(target);
  for (const el of document.querySelectorAll("[id]")) if (normalise(el.id) === wanted) return el;
  for (const heading of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    if (normalise(heading.textContent) === wanted) return heading;
  }
  return null;
}

function keepInView(target) {
  // While a page is still being built the section can be pushed away after we scrolled to it: Voila moves
  // #rendered_cells into its shell when rendering ends (which resets its scroll position), and outputs above
  // may still grow. Put it back when it moves, until the user scrolls or types, for a few seconds.
  const deadline = performance.now() + KEEP_IN_VIEW_MS;
  let userActed = false;
  const onUser = () => (userActed = true);
  USER_INPUT.forEach((type) => window.addEventListener(type, onUser, { capture: true, passive: true }));
  let top = target.getBoundingClientRect().top;
  const check = () => {
    if (userActed || performance.now() > deadline || !target.isConnected) {
      USER_INPUT.forEach((type) => window.removeEventListener(type, onUser, { capture: true }));
      return;
    }
    const now = target.getBoundingClientRect().top;
    if (Math.abs(now - top) > 2) {
      target.scrollIntoView({ block: "start" });
      top = target.getBoundingClientRect().top;
    }
    setTimeout(check, 100);
  };
  setTimeout(check, 100);
}

function scrollTo(model, request, pageStillBuilding) {
  handled.set(model, request.seq);
  const started = performance.now();
  const attempt = () => {
    if (handled.get(model) !== request.seq) return; // a newer request took over
    const target = findTarget(request.target);
    if (!target && performance.now() - started < WAIT_FOR_TARGET_MS) {
      setTimeout(attempt, 100);
      return;
    }
    if (target) {
      const smooth = request.smooth && !pageStillBuilding;
      target.scrollIntoView({ behavior: smooth ? "smooth" : "auto", block: "start" });
      if (pageStillBuilding) keepInView(target);
      if (request.focus) {
        if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
        target.focus({ preventScroll: true });
      }
    } else {
      console.warn(`[ScrollTo] no element with id or heading text "${request.target}"`);
    }
    model.set("last_result", { seq: request.seq, target: request.target, found: Boolean(target) });
    model.save_changes();
  };
  attempt();
}

function render({ model, el }) {
  el.classList.add("scroll-to");
  el.style.display = "none";
  const onRequest = (pageStillBuilding) => {
    const request = model.get("_request");
    if (request && request.seq && request.seq !== handled.get(model)) scrollTo(model, request, pageStillBuilding);
  };
  const onChange = () => onRequest(false);
  model.on("change:_request", onChange);
  onRequest(true); // a request made before this view existed: the page around it is probably still being built
  return () => model.off("change:_request", onChange);
}

export default { render };
