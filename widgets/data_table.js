// DataTable view: a plain <table> sorted in the page when a header is clicked; selection by checkbox or row click;
// an optional search box and pages; an openable row reports itself in `activated`.
//
// The kernel sends raw values (numbers, ISO times, seconds) and each column's kind; formatting happens here so
// sorting compares the values, not their text. Selection and sort go back to the kernel as traits.

const pad = (value) => String(value).padStart(2, "0");
const formats = new Map();

function numberFormat(digits) {
  const key = digits ?? "auto";
  if (!formats.has(key)) {
    formats.set(key, new Intl.NumberFormat(undefined, digits == null
      ? { maximumFractionDigits: 2 } : { minimumFractionDigits: digits, maximumFractionDigits: digits }));
  }
  return formats.get(key);
}

function formatDateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} `
    + `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function formatDuration(seconds) {
  if (seconds < 60) return `${numberFormat(1).format(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${pad(whole % 60)} s`;
  return `${Math.floor(whole / 3600)} h ${pad(Math.floor((whole % 3600) / 60))} min`;
}

function formatCell(column, value) {
  if (value === null || value === undefined || value === "") return "—";
  switch (column.kind) {
    case "number":
      return typeof value === "number"
        ? `${numberFormat(column.digits).format(value)}${column.unit ? ` ${column.unit}` : ""}` : String(value);
    case "datetime":
      return formatDateTime(value);
    case "duration":
      return typeof value === "number" ? formatDuration(value) : String(value);
    case "bool":
      return value === true ? "✓" : value === false ? "✗" : String(value);
    default:
      return String(value);
  }
}

function sortValue(column, value) {
  if (value === null || value === undefined || value === "") return null;
  if (column.kind === "bool") return value === true ? 1 : value === false ? 0 : null;
  if (column.kind === "datetime") {
    const time = Date.parse(value);
    return Number.isNaN(time) ? null : time;
  }
  return value;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

function compareValues(a, b) {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return collator.compare(String(a), String(b));
}

function sortedRows(rows, column, descending) {
  if (!column) return rows;
  const keyed = rows.map((row, index) => ({ row, index, value: sortValue(column, row[column.key]) }));
  keyed.sort((a, b) => {
    // Rows without a value stay at the bottom whichever way the column is sorted.
    if (a.value === null || b.value === null) {
      return a.value === b.value ? a.index - b.index : a.value === null ? 1 : -1;
    }
    const order = compareValues(a.value, b.value);
    return (descending ? -order : order) || a.index - b.index;
  });
  return keyed.map((entry) => entry.row);
}

// Quantities line up on their last digit; words and dates read from the left.
function alignment(column) {
  if (column.kind === "number" || column.kind === "duration") return "pw-dt-number";
  if (column.kind === "bool") return "pw-dt-bool";
  return column.wrap ? "pw-dt-wrap" : "";
}

function matches(row, columns, words) {
  if (!words.length) return true;
  const text = columns.map((column) => formatCell(column, row[column.key])).join(" ").toLowerCase();
  return words.every((word) => text.includes(word));
}

const countFormat = new Intl.NumberFormat();

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function render({ model, el }) {
  const root = element("div", "pw-data-table");
  const scroller = element("div", "pw-dt-scroll");
  const table = element("table", "pw-dt-table");
  const head = element("thead");
  const body = element("tbody");
  const empty = element("p", "pw-dt-empty");
  const footer = element("div", "pw-dt-footer");
  const selectedCount = element("span", "pw-dt-count");
  selectedCount.setAttribute("aria-live", "polite");
  const clear = element("button", "pw-dt-clear", "Clear selection");
  clear.type = "button";
  clear.addEventListener("click", () => setSelection([]));
  footer.append(selectedCount, clear);
  const tools = element("div", "pw-dt-tools");
  const search = element("input", "pw-dt-search");
  search.type = "search";
  search.placeholder = "Search";
  search.setAttribute("aria-label", "Search the table");
  search.addEventListener("input", () => { page = 0; paint(); });
  tools.append(search);
  const pager = element("div", "pw-dt-pager");
  const status = element("span", "pw-dt-status");
  status.setAttribute("aria-live", "polite");
  const previous = element("button", "pw-dt-page", "Previous");
  const next = element("button", "pw-dt-page", "Next");
  previous.type = next.type = "button";
  previous.addEventListener("click", () => { page -= 1; paint(); });
  next.addEventListener("click", () => { page += 1; paint(); });
  pager.append(status, previous, next);
  table.append(head, body);
  scroller.append(table);
  root.append(tools, scroller, empty, pager, footer);
  el.append(root);
  // The page and the search are the viewer's own: another view of the same table keeps its own.
  let page = 0;

  const keyOf = (row) => String(row[model.get("row_key")]);

  function setSelection(keys) {
    model.set("selection", keys);
    model.save_changes();
    paint();
  }

  function toggle(key) {
    const mode = model.get("selectable");
    if (mode === "none") return;
    const selection = model.get("selection");
    const picked = selection.includes(key);
    if (mode === "single") setSelection(picked ? [] : [key]);
    else setSelection(picked ? selection.filter((each) => each !== key) : [...selection, key]);
  }

  function sortBy(column) {
    const current = model.get("sort_by");
    // Figures and times are read largest and newest first; words from A.
    const descending = current === column.key ? !model.get("descending") : column.kind !== "text";
    model.set("sort_by", column.key);
    model.set("descending", descending);
    model.save_changes();
    paint();
  }

  function paintHead(columns, selectable) {
    const row = element("tr");
    if (selectable) {
      const cell = element("th", "pw-dt-select");
      cell.append(element("span", "pw-dt-hidden", "Selected"));
      row.append(cell);
    }
    const sortKey = model.get("sort_by");
    for (const column of columns) {
      const cell = element("th", alignment(column));
      cell.scope = "col";
      cell.dataset.key = column.key;
      const sorted = column.key === sortKey;
      cell.setAttribute("aria-sort", !sorted ? "none" : model.get("descending") ? "descending" : "ascending");
      const button = element("button", "pw-dt-sort", column.label);
      button.type = "button";
      button.title = `Sort by ${column.label}`;
      const arrow = element("span", "pw-dt-arrow", sorted ? (model.get("descending") ? "▼" : "▲") : "");
      arrow.setAttribute("aria-hidden", "true");
      button.append(arrow);
      button.addEventListener("click", () => sortBy(column));
      cell.append(button);
      row.append(cell);
    }
    head.replaceChildren(row);
  }

  function open(key) {
    model.set("activated", key);
    model.save_changes();
    paint();
  }

  function visibleRows(columns) {
    const words = search.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const sortColumn = columns.find((column) => column.key === model.get("sort_by"));
    const rows = sortedRows(model.get("rows"), sortColumn, model.get("descending"));
    return rows.filter((row) => matches(row, columns, words));
  }

  function paintBody(columns, selectable, rows) {
    const selection = new Set(model.get("selection"));
    const openable = model.get("openable");
    const activated = model.get("activated");
    const nameColumn = columns.find((column) => column.kind === "text") || columns[0];
    body.replaceChildren(...rows.map((data) => {
      const key = keyOf(data);
      const row = element("tr");
      row.dataset.key = key;
      const picked = selection.has(key);
      row.setAttribute("aria-selected", String(picked));
      if (openable) {
        row.tabIndex = 0;
        row.classList.add("pw-dt-openable");
        if (key === activated) row.setAttribute("aria-current", "true");
        row.title = "Open this row";
        row.addEventListener("keydown", (event) => {
          if (event.key === "Enter") open(key);
        });
      }
      if (selectable) {
        const cell = element("td", "pw-dt-select");
        const box = element("input");
        box.type = "checkbox";
        box.checked = picked;
        const name = nameColumn ? formatCell(nameColumn, data[nameColumn.key]) : key;
        box.setAttribute("aria-label", `Select ${name}`);
        box.addEventListener("click", (event) => event.stopPropagation());
        box.addEventListener("change", () => toggle(key));
        cell.append(box);
        row.append(cell);
        if (!openable) row.addEventListener("click", () => toggle(key));
      }
      if (openable) row.addEventListener("click", () => open(key));
      for (const column of columns) {
        const value = data[column.key];
        const cell = element("td", alignment(column), formatCell(column, value));
        if (column.kind === "datetime" && value) cell.title = String(value);
        if (column.kind === "bool" && typeof value === "boolean") cell.title = value ? "yes" : "no";
        row.append(cell);
      }
      return row;
    }));
  }

  function paint() {
    const columns = model.get("columns");
    const selectable = model.get("selectable") !== "none";
    const count = model.get("rows").length;
    const picked = model.get("selection").length;
    root.classList.toggle("pw-dt-selectable", selectable);
    root.dataset.rows = String(count);
    scroller.style.maxHeight = `${model.get("max_height")}px`;
    // The page around the table gives it a visible heading; the label names it for screen readers.
    if (model.get("label")) table.setAttribute("aria-label", model.get("label"));
    else table.removeAttribute("aria-label");
    paintHead(columns, selectable);
    const shown = visibleRows(columns);
    const size = model.get("page_size");
    const pages = size > 0 ? Math.max(1, Math.ceil(shown.length / size)) : 1;
    page = Math.min(Math.max(page, 0), pages - 1);
    const first = size > 0 ? page * size : 0;
    const onPage = size > 0 ? shown.slice(first, first + size) : shown;
    paintBody(columns, selectable, onPage);
    tools.hidden = !model.get("searchable") || count === 0;
    table.hidden = onPage.length === 0;
    empty.textContent = count > 0 ? `No row contains “${search.value.trim()}”.` : model.get("empty_text");
    empty.hidden = onPage.length > 0;
    // How much there is, always in sight: a table that shows ten rows of 337 says so.
    const of = shown.length === count ? countFormat.format(count)
      : `${countFormat.format(shown.length)} matching (${countFormat.format(count)} in all)`;
    status.textContent = onPage.length === 0 ? ""
      : `Showing ${countFormat.format(first + 1)}–${countFormat.format(first + onPage.length)} of ${of}`;
    pager.hidden = count === 0;
    previous.hidden = next.hidden = pages <= 1;
    previous.disabled = page === 0;
    next.disabled = page >= pages - 1;
    footer.hidden = !selectable || picked === 0;
    selectedCount.textContent = `${picked} selected`;
  }

  const names = ["columns", "rows", "row_key", "selectable", "selection", "sort_by", "descending", "label",
    "empty_text", "max_height", "searchable", "page_size", "openable", "activated"];
  for (const name of names) model.on(`change:${name}`, paint);
  paint();
  return () => { for (const name of names) model.off(`change:${name}`, paint); };
}

export default { render };
