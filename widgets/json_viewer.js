// JsonViewer front end: a virtualised, keyboard-navigable tree whose children come from the kernel on expand.
//
// The tree is drawn as a flat list of rows (indentation by padding, not nested elements), and only the rows in
// the scroll viewport exist in the DOM, so neither a 1,000-deep nor a 100,000-wide document can build a huge or
// deeply nested DOM. Containers larger than one page are split into range rows ("[100 … 199]"), nested when
// needed (ranges of 10,000 holding ranges of 100), and a range fetches its rows only when opened.
// One file: anywidget loads a single ES module and the project has no bundler.

const ROW_HEIGHT = 22;
const OVERSCAN = 8;
const DEEP_INDENT = 30; // beyond this depth rows stop moving right and show their level instead
const COMMAND_TIMEOUT_MS = 30000;

function rangeChildren(owner, parent, start, stop, pageSize) {
  let bucket = pageSize;
  while (Math.ceil((stop - start) / bucket) > pageSize) bucket *= pageSize;
  const ranges = [];
  for (let from = start; from < stop; from += bucket) {
    ranges.push({ parent, owner, depth: parent.depth + 1, range: [from, Math.min(from + bucket, stop)] });
  }
  return ranges;
}

function needsRanges(node, pageSize) {
  const size = node.range ? node.range[1] - node.range[0] : node.row.n;
  return size > pageSize;
}

class Viewer {
  constructor(model, el, invoke) {
    this.model = model;
    this.invoke = invoke;
    // Each widget may get its own copy of this module, so the counter lives on the page: row ids must be
    // unique in the document for aria-activedescendant.
    this.uid = `jv${(globalThis.__workbenchJsonViewerCount = (globalThis.__workbenchJsonViewerCount ?? 0) + 1)}`;
    this.requests = 0;
    this.matches = [];
    this.current = -1;
    this.query = "";
    this.build(el);
    this.reset();
  }

  build(el) {
    el.classList.add("jv");
    el.setAttribute("data-lm-suppress-shortcuts", "true"); // JupyterLab: our keys are not notebook commands
    el.innerHTML = `
      <div class="jv-toolbar">
        <input class="jv-search" type="search" placeholder="Search keys and values" aria-label="Search the data">
        <button class="jv-prev" type="button" aria-label="Previous match" title="Previous match (Shift+Enter)">↑</button>
        <button class="jv-next" type="button" aria-label="Next match" title="Next match (Enter)">↓</button>
        <span class="jv-count" aria-live="polite"></span>
        <span class="jv-status" role="status" aria-live="polite"></span>
      </div>
      <div class="jv-scroll" role="tree" tabindex="0" aria-label="Data">
        <div class="jv-spacer"><div class="jv-window"></div></div>
      </div>`;
    this.el = el;
    this.scroller = el.querySelector(".jv-scroll");
    this.spacer = el.querySelector(".jv-spacer");
    this.window = el.querySelector(".jv-window");
    this.searchBox = el.querySelector(".jv-search");
    this.countEl = el.querySelector(".jv-count");
    this.statusEl = el.querySelector(".jv-status");
    this.scroller.addEventListener("scroll", () => this.schedulePaint());
    this.window.addEventListener("click", (event) => this.onClick(event));
    this.scroller.addEventListener("keydown", (event) => this.onKey(event));
    el.querySelector(".jv-next").addEventListener("click", () => this.step(1));
    el.querySelector(".jv-prev").addEventListener("click", () => this.step(-1));
    this.searchBox.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.step(event.shiftKey ? -1 : 1);
      }
    });
    this.searchBox.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.runSearch(), 300);
    });
  }

  reset() {
    const state = this.model.get("_root");
    this.revision = state.revision;
    this.pageSize = state.page_size;
    this.root = { parent: null, depth: 0, row: state.row, positions: [], expanded: false, children: null };
    if (state.children) {
      this.root.children = this.realChildren(this.root, state.children, 0);
      this.root.expanded = true;
    } else if (state.row.n !== undefined && needsRanges(this.root, this.pageSize)) {
      this.root.children = rangeChildren(this.root, this.root, 0, state.row.n, this.pageSize);
      this.root.expanded = true;
    }
    this.active = this.root;
    this.matches = [];
    this.current = -1;
    this.query = "";
    this.searchBox.value = "";
    this.countEl.textContent = "";
    this.paint();
  }

  realChildren(parent, rows, start) {
    const owner = parent.owner || parent;
    return rows.map((row, i) => ({
      parent,
      depth: parent.depth + 1,
      row,
      positions: owner.positions.concat(start + i),
      expanded: false,
      children: null,
    }));
  }

  async call(name, msg) {
    const [answer] = await this.invoke(name, { revision: this.revision, ...msg }, {
      signal: AbortSignal.timeout(COMMAND_TIMEOUT_MS),
    });
    if (answer.stale) throw new Error("the data changed; showing the new data");
    if (answer.error) throw new Error(answer.error);
    return answer;
  }

  isContainer(node) {
    return Boolean(node.range) || node.row.n !== undefined;
  }

  async load(node) {
    if (node.children) return;
    if (needsRanges(node, this.pageSize)) {
      const [start, stop] = node.range || [0, node.row.n];
      node.children = rangeChildren(node.owner || node, node, start, stop, this.pageSize);
      return;
    }
    if (node.pending) return node.pending;
    const owner = node.owner || node;
    const [start, stop] = node.range || [0, node.row.n];
    node.loading = true;
    this.schedulePaint();
    this.requests += 1;
    this.el.dataset.requests = String(this.requests);
    node.pending = this.call("_children", { path: owner.positions, start, stop })
      .then((answer) => {
        node.children = this.realChildren(node, answer.rows, start);
      })
      .finally(() => {
        node.loading = false;
        node.pending = null;
      });
    return node.pending;
  }

  async expand(node) {
    if (!this.isContainer(node) || node.expanded) return;
    try {
      await this.load(node);
      node.expanded = true;
    } catch (error) {
      this.say(`Could not open ${this.label(node)}: ${error.message}`);
    }
    this.paint();
  }

  collapse(node) {
    node.expanded = false;
    let walker = this.active;
    while (walker && walker !== node) walker = walker.parent;
    if (walker === node) this.active = node; // the active row was hidden inside
    this.paint();
  }

  toggle(node) {
    if (node.expanded) this.collapse(node);
    else this.expand(node);
  }

  visibleRows() {
    const rows = [];
    const stack = [this.root];
    while (stack.length) {
      const node = stack.pop();
      rows.push(node);
      if (node.expanded && node.children) {
        for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]);
      }
    }
    return rows;
  }

  schedulePaint() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.paintWindow();
    });
  }

  paint() {
    this.rows = this.visibleRows();
    const total = this.rows.length * ROW_HEIGHT;
    this.spacer.style.height = `${total}px`;
    this.scroller.style.height = `${Math.min(total, this.model.get("height"))}px`;
    this.paintWindow();
  }

  paintWindow() {
    const rows = this.rows;
    const first = Math.max(0, Math.floor(this.scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const visible = Math.ceil((this.scroller.clientHeight || this.model.get("height")) / ROW_HEIGHT);
    const last = Math.min(rows.length, first + visible + 2 * OVERSCAN);
    const fragment = document.createDocumentFragment();
    for (let i = first; i < last; i++) fragment.appendChild(this.rowElement(rows[i], i));
    this.window.style.transform = `translateY(${first * ROW_HEIGHT}px)`;
    this.window.replaceChildren(fragment);
    const activeIndex = rows.indexOf(this.active);
    if (activeIndex >= 0) this.scroller.setAttribute("aria-activedescendant", `${this.uid}-${activeIndex}`);
  }

  label(node) {
    if (node.range) return `[${node.range[0]} … ${node.range[1] - 1}]`;
    return this.pathOf(node);
  }

  pathOf(node) {
    // Python source from the root to the node, joined from each row's accessor ('["runs"]', '[3]', ...).
    const rows = [];
    for (let walker = node; walker; walker = walker.parent) if (!walker.range) rows.push(walker.row);
    let path = "";
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i];
      path = row.w ? `${row.w}(${path})${row.a}` : path + row.a;
    }
    return path;
  }

  rowElement(node, index) {
    const el = document.createElement("div");
    el.className = "jv-row";
    el.id = `${this.uid}-${index}`;
    el.dataset.index = String(index);
    el.setAttribute("role", "treeitem");
    el.setAttribute("aria-level", String(node.depth + 1));
    el.setAttribute("aria-selected", String(node === this.active));
    if (node === this.active) el.classList.add("jv-active");
    const indent = Math.min(node.depth, DEEP_INDENT);
    el.style.paddingLeft = `${4 + indent * 14}px`;
    const container = this.isContainer(node);
    if (container) el.setAttribute("aria-expanded", String(Boolean(node.expanded)));
    const caret = document.createElement("span");
    caret.className = "jv-caret";
    caret.textContent = node.loading ? "…" : container ? (node.expanded ? "▾" : "▸") : "";
    el.appendChild(caret);
    if (node.depth > DEEP_INDENT) el.appendChild(this.span("jv-level", `L${node.depth}`));
    if (node.range) {
      el.classList.add("jv-range");
      el.appendChild(this.span("jv-label", this.label(node)));
      return el;
    }
    el.dataset.path = node.positions.join(".");
    const row = node.row;
    if (row.k !== null) {
      el.appendChild(this.span(typeof row.k === "number" ? "jv-index" : "jv-key", String(row.k)));
      el.appendChild(this.span("jv-colon", ":"));
    }
    if (container) {
      const braces = row.t === "array" ? ["[", "]"] : ["{", "}"];
      el.appendChild(this.span("jv-summary", `${braces[0]}${row.n}${braces[1]}`));
      el.appendChild(this.span("jv-badge", row.l));
    } else {
      const value = this.span(`jv-value jv-t-${row.t}`, row.t === "string" ? `"${row.v}"` : row.v);
      if (row.x) value.title = `${row.x} characters; copy the value to get all of them`;
      el.appendChild(value);
      if (row.x) el.appendChild(this.span("jv-badge", `${row.x} chars`));
      if (row.b) el.appendChild(this.span("jv-badge", row.b));
    }
    if (this.query && this.matchesQuery(row)) el.classList.add("jv-hit");
    const match = this.matches[this.current];
    if (match && match.join(".") === el.dataset.path) el.classList.add("jv-current");
    const actions = this.span("jv-actions", "");
    actions.append(this.button("jv-copy-value", "Copy value", "copy"), this.button("jv-copy-path", "Copy path", "path"));
    el.appendChild(actions);
    return el;
  }

  span(className, text) {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    return span;
  }

  button(className, label, text) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.tabIndex = -1; // keyboard users press c / p on the active row
    button.setAttribute("aria-label", label);
    button.title = label;
    button.textContent = text;
    return button;
  }

  matchesQuery(row) {
    const needle = this.query.toLocaleLowerCase();
    return String(row.k).toLocaleLowerCase().includes(needle) || (row.v !== undefined && row.v.toLocaleLowerCase().includes(needle));
  }

  onClick(event) {
    const rowEl = event.target.closest(".jv-row");
    if (!rowEl) return;
    const node = this.rows[Number(rowEl.dataset.index)];
    this.active = node;
    if (event.target.closest(".jv-copy-value")) this.copyValue(node);
    else if (event.target.closest(".jv-copy-path")) this.copyPath(node);
    else if (this.isContainer(node)) this.toggle(node);
    else this.paint();
    this.scroller.focus({ preventScroll: true });
  }

  onKey(event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    const index = this.rows.indexOf(this.active);
    const node = this.active;
    const page = Math.max(1, Math.floor(this.scroller.clientHeight / ROW_HEIGHT) - 1);
    const moves = {
      ArrowDown: () => this.moveTo(index + 1),
      ArrowUp: () => this.moveTo(index - 1),
      PageDown: () => this.moveTo(index + page),
      PageUp: () => this.moveTo(index - page),
      Home: () => this.moveTo(0),
      End: () => this.moveTo(this.rows.length - 1),
      ArrowRight: () => (this.isContainer(node) && !node.expanded ? this.expand(node) : node.expanded ? this.moveTo(index + 1) : null),
      ArrowLeft: () => (node.expanded ? this.collapse(node) : node.parent ? this.moveTo(this.rows.indexOf(node.parent)) : null),
      Enter: () => this.isContainer(node) && this.toggle(node),
      " ": () => this.isContainer(node) && this.toggle(node),
      c: () => this.copyValue(node),
      p: () => this.copyPath(node),
      "/": () => this.searchBox.focus(),
    };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    event.stopPropagation();
    move();
  }

  moveTo(index) {
    if (!this.rows.length) return;
    this.active = this.rows[Math.max(0, Math.min(this.rows.length - 1, index))];
    this.scrollToRow(this.rows.indexOf(this.active));
    this.paintWindow();
  }

  scrollToRow(index, center = false) {
    const top = index * ROW_HEIGHT;
    const height = this.scroller.clientHeight;
    if (center) this.scroller.scrollTop = Math.max(0, top - height / 2);
    else if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW_HEIGHT > this.scroller.scrollTop + height) this.scroller.scrollTop = top + ROW_HEIGHT - height;
  }

  async runSearch() {
    const query = this.searchBox.value.trim();
    if (query === this.query) return;
    this.query = query;
    this.matches = [];
    this.current = -1;
    if (!query) {
      this.countEl.textContent = "";
      this.paint();
      return;
    }
    this.countEl.textContent = "searching…";
    try {
      const answer = await this.call("_search", { query });
      if (query !== this.query) return; // a newer search started meanwhile
      this.matches = answer.paths;
      const more = answer.total > answer.paths.length ? ` (first ${answer.paths.length} of ${answer.total})` : "";
      this.countEl.textContent = answer.total ? `${answer.total} matches${more}` : "no matches";
    } catch (error) {
      this.countEl.textContent = `search failed: ${error.message}`;
    }
    this.paint();
  }

  async step(direction) {
    clearTimeout(this.searchTimer);
    await this.runSearch();
    if (!this.matches.length) return;
    this.current = (this.current + direction + this.matches.length) % this.matches.length;
    this.countEl.textContent = `${this.current + 1} / ${this.matches.length}`;
    await this.reveal(this.matches[this.current]);
  }

  async reveal(positions) {
    // One request brings the page of rows at every level down to the match; then walk down, opening
    // containers and ranges and filling in the pages not loaded yet.
    let node = this.root;
    try {
      const { pages } = await this.call("_reveal", { path: positions });
      positions.forEach((position, depth) => {
        const page = pages[depth];
        this.open(node, page);
        let child = this.childAt(node, position);
        while (child.range) {
          this.open(child, page);
          child = this.childAt(child, position);
        }
        node = child;
      });
    } catch (error) {
      this.say(`Could not open the match: ${error.message}`);
    }
    this.active = node;
    this.paint();
    this.scrollToRow(this.rows.indexOf(node), true);
    this.paintWindow();
    // The tree may itself be partly off screen: bring the match into the page's view too.
    const rowEl = this.window.querySelector(".jv-active");
    if (rowEl) rowEl.scrollIntoView({ block: "nearest" });
  }

  open(node, page) {
    if (!node.children) {
      if (needsRanges(node, this.pageSize)) this.load(node); // ranges are made here, without a request
      else node.children = this.realChildren(node, page.rows, page.start);
    }
    node.expanded = true;
  }

  childAt(node, position) {
    if (node.children.length && node.children[0].range) {
      return node.children.find((child) => child.range[0] <= position && position < child.range[1]);
    }
    const offset = node.range ? node.range[0] : 0;
    return node.children[position - offset];
  }

  async copyValue(node) {
    if (node.range) return this.say("Open the range and copy a value inside it");
    try {
      const answer = await this.call("_value", { path: node.positions });
      await this.writeClipboard(answer.text);
      this.say(`Copied the value of ${this.pathOf(node)} (${answer.text.length} characters)`);
    } catch (error) {
      this.say(`Could not copy: ${error.message}`);
    }
  }

  async copyPath(node) {
    if (node.range) return this.say("Open the range and copy a path inside it");
    try {
      const path = this.pathOf(node);
      await this.writeClipboard(path);
      this.say(`Copied path ${path}`);
    } catch (error) {
      this.say(`Could not copy: ${error.message}`);
    }
  }

  async writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) return navigator.clipboard.writeText(text);
    // Plain-http pages have no Clipboard API: fall back to a selected textarea.
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    if (!copied) throw new Error("the browser refused to copy");
  }

  say(message) {
    this.statusEl.textContent = message;
  }
}

function render({ model, el, experimental }) {
  // Performance entries for benchmarks/json_viewer.py and for anyone profiling the page in DevTools.
  const started = performance.now();
  const viewer = new Viewer(model, el, experimental.invoke);
  const measureWhenPainted = () => {
    if (!el.isConnected) return requestAnimationFrame(measureWhenPainted); // drawn only once attached
    // A timeout queued in an animation frame runs after that frame is painted.
    requestAnimationFrame(() => setTimeout(() => performance.measure("json-viewer:first-paint", { start: started })));
  };
  measureWhenPainted();
  const onRoot = () => viewer.reset();
  const onHeight = () => viewer.paint();
  model.on("change:_root", onRoot);
  model.on("change:height", onHeight);
  return () => {
    model.off("change:_root", onRoot);
    model.off("change:height", onHeight);
  };
}

export default { render };
