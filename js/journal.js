// Kepler's journal table. Display only: the kernel searches, sorts and pages; this draws
// what it is sent and reports the filter text, column clicks, chosen columns, page turns and
// selected rows. Every text is set with textContent, never as HTML.

// "3 min ago" for a journal time (2026-11-24T10:00:00+0000); the full local time goes in the title.
function ago(iso, now) {
  const then = Date.parse(String(iso).replace(/([+-]\d\d)(\d\d)$/, "$1:$2"));
  if (Number.isNaN(then)) return "";
  const seconds = Math.max(0, (now - then) / 1000);
  if (seconds < 60) return "just now";
  for (const [unit, size] of [["day", 86400], ["h", 3600], ["min", 60]]) {
    if (seconds >= size) {
      const n = Math.floor(seconds / size);
      return `${n} ${unit}${unit === "day" && n > 1 ? "s" : ""} ago`;
    }
  }
  return "";
}

const STATUS_MARKS = { finished: "✓", failed: "✗", interrupted: "■", skipped: "↷", running: "▶" };

function fullTime(iso) {
  const then = Date.parse(String(iso).replace(/([+-]\d\d)(\d\d)$/, "$1:$2"));
  return Number.isNaN(then) ? String(iso) : new Date(then).toLocaleString();
}

function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined && text !== null) n.textContent = String(text);
  return n;
}

// The export notice: an <a>, linked when it names a report. JupyterLab's own link handling (the
// notebook's rendermime: its resolver and link handler, as for a link in an output) opens the
// report in a tab; a front end without them follows the relative link itself. A fresh element
// each time, so that a handler added for an earlier report never opens that one.
function noticeNode(model) {
  const notice = node("a", "kepler-journal-count kepler-journal-notice", model.get("notice"));
  const href = model.get("report");
  if (!href) return notice;
  notice.classList.add("kepler-report-link");
  notice.href = href;
  notice.title = "Open the report in a JupyterLab tab";
  const rendermime = model.widget_manager && model.widget_manager.rendermime;
  const resolver = rendermime && rendermime.resolver;
  const links = rendermime && rendermime.linkHandler;
  if (resolver && links) {
    Promise.resolve(resolver.resolveUrl(href))
      .then(async (urlPath) => {
        links.handleLink(notice, decodeURIComponent(urlPath), "");
        notice.href = await resolver.getDownloadUrl(urlPath);
      })
      .catch((error) => console.warn("kepler: the report link opens outside JupyterLab", error));
  }
  return notice;
}

function render({ model, el: host }) {
  const root = node("div", "kepler-widget kepler-journal");
  const title = node("div", "kepler-dialog-title");
  const bar = node("div", "kepler-journal-bar");
  const filter = node("input", "kepler-journal-filter");
  filter.type = "search";
  filter.placeholder = "Filter: val_accuracy > 0.9 and optimizer = adam";
  filter.setAttribute("aria-label", "Filter experiments");
  filter.value = model.get("query");
  const count = node("span", "kepler-journal-count");
  const exportButton = node("button", "kepler-button", "Export");
  exportButton.title = "Write an HTML report of the selected runs (or of the whole project)";
  exportButton.addEventListener("click", () => {
    model.set("export_requests", model.get("export_requests") + 1);
    model.save_changes();
  });
  const picker = node("details", "kepler-journal-picker");
  const pickerLabel = node("summary", "kepler-button", "Columns");
  pickerLabel.title = "Choose the columns to show";
  const pickerList = node("div", "kepler-journal-picker-list");
  picker.append(pickerLabel, pickerList);
  const skippedBox = node("label", "kepler-journal-count kepler-journal-skipped");
  const skippedCheck = node("input");
  skippedCheck.type = "checkbox";
  const skippedText = node("span");
  skippedBox.append(skippedCheck, skippedText);
  skippedCheck.addEventListener("change", () => {
    model.set("show_skipped", skippedCheck.checked);
    model.save_changes();
  });
  bar.append(filter, count, skippedBox, picker, exportButton);
  const error = node("div", "kepler-journal-error");
  let notice = noticeNode(model);
  let noticeSaid = [model.get("notice"), model.get("report")].join("\n");
  const table = node("table", "kepler-table kepler-journal-table");
  const tableBox = node("div", "kepler-journal-rows");
  tableBox.append(table);
  const pager = node("div", "kepler-journal-pager");
  const details = node("div", "kepler-journal-details");
  root.append(title, bar, error, notice, tableBox, pager, details);

  let typing = null;
  filter.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      model.set("query", filter.value);
      model.save_changes();
    }, 250);
  });

  const visibleColumns = () => {
    const all = model.get("columns") || [];
    const chosen = model.get("shown_columns") || [];
    return chosen.length ? all.filter((c) => chosen.includes(c.key)) : all.filter((c) => c.default);
  };

  const drawPicker = () => {
    const shown = new Set(visibleColumns().map((c) => c.key));
    pickerList.replaceChildren();
    for (const column of model.get("columns") || []) {
      const label = node("label");
      const box = node("input");
      box.type = "checkbox";
      box.checked = shown.has(column.key);
      box.dataset.key = column.key;
      box.addEventListener("change", () => {
        const now = visibleColumns().map((c) => c.key);
        const next = box.checked ? [...now, column.key] : now.filter((k) => k !== column.key);
        const order = (model.get("columns") || []).map((c) => c.key);
        model.set("shown_columns", order.filter((k) => next.includes(k)));
        model.save_changes();
      });
      label.append(box, document.createTextNode(" " + column.label));
      pickerList.append(label);
    }
  };

  const drawTable = () => {
    title.textContent = model.get("title");
    error.textContent = model.get("error");
    const said = [model.get("notice"), model.get("report")].join("\n");
    if (said !== noticeSaid) {
      noticeSaid = said;
      const next = noticeNode(model);
      notice.replaceWith(next);
      notice = next;
    }
    const skipped = model.get("skipped");
    skippedBox.hidden = !skipped && !model.get("show_skipped");
    skippedCheck.checked = model.get("show_skipped");
    skippedText.textContent = ` show ${skipped} skipped`;
    drawPicker();
    const columns = visibleColumns();
    const now = Date.now();
    const rows = model.get("rows") || [];
    const selected = new Set(model.get("selected") || []);
    const sort = model.get("sort");
    const descending = model.get("descending");
    const head = node("thead");
    const headRow = node("tr");
    for (const column of columns) {
      const arrow = column.key === sort ? (descending ? " ▼" : " ▲") : "";
      // Long metric names may wrap after "_" (val_/accuracy) to keep the sidebar narrow.
      const label = column.label.replace(/_/g, "_\u200b");
      const th = node("th", "kepler-col-" + column.key + (column.numeric ? " kepler-num" : ""), label + arrow);
      th.dataset.key = column.key;
      th.title = "Sort by " + column.label;
      th.addEventListener("click", () => {
        if (model.get("sort") === column.key) {
          model.set("descending", !model.get("descending"));
        } else {
          model.set("sort", column.key);
          model.set("descending", column.numeric);
        }
        model.save_changes();
      });
      headRow.append(th);
    }
    head.append(headRow);
    const body = node("tbody");
    for (const row of rows) {
      const tr = node("tr", selected.has(row.id) ? "kepler-selected" : "");
      tr.dataset.id = String(row.id);
      tr.setAttribute("aria-selected", selected.has(row.id) ? "true" : "false");
      for (const column of columns) {
        let cls = "kepler-col-" + column.key + (column.numeric ? " kepler-num" : "");
        if (column.key === "status") cls += " kepler-status-" + row.status;
        const value = row.cells[column.key];
        const td = node("td", cls, column.time ? ago(value, now) : value);
        td.title = column.time ? fullTime(value) : (row.titles || {})[column.key] || value || "";
        if (column.time) td.dataset.time = value;
        if (column.key === "status") {
          // A coloured mark; the word stays for screen readers and on hover.
          td.replaceChildren(node("span", "kepler-status-mark", STATUS_MARKS[value] || "•"), node("span", "kepler-sr-only", value));
          td.title = value + (row.titles && row.titles.status ? " — " + row.titles.status : "");
        }
        if (column.key === "name") {
          // When it ran, under its name ("3 min ago"; the full time on hover).
          const when = node("div", "kepler-when", ago(row.cells.created, now));
          when.dataset.time = row.cells.created;
          when.title = fullTime(row.cells.created);
          td.replaceChildren(node("div", "kepler-name", value), when);
        }
        tr.append(td);
      }
      tr.addEventListener("click", () => {
        const now = new Set(model.get("selected") || []);
        if (now.has(row.id)) now.delete(row.id);
        else now.add(row.id);
        model.set("selected", Array.from(now));
        model.save_changes();
      });
      body.append(tr);
    }
    table.replaceChildren(head, body);
    const total = model.get("total");
    const size = model.get("page_size");
    const page = model.get("page");
    const first = total ? page * size + 1 : 0;
    const last = Math.min(total, (page + 1) * size);
    count.textContent = total === 1 ? "1 experiment" : total + " experiments";
    pager.replaceChildren();
    if (total > size) {
      const prev = node("button", "kepler-button", "‹ Previous");
      prev.disabled = page === 0;
      prev.addEventListener("click", () => {
        model.set("page", page - 1);
        model.save_changes();
      });
      const next = node("button", "kepler-button", "Next ›");
      next.disabled = last >= total;
      next.addEventListener("click", () => {
        model.set("page", page + 1);
        model.save_changes();
      });
      pager.append(prev, node("span", "kepler-journal-count", `${first}–${last} of ${total}`), next);
    }
  };

  const drawDetails = () => {
    details.replaceChildren();
    const comparison = model.get("comparison") || {};
    if (comparison.title) {
      const box = node("div", "kepler-journal-detail kepler-journal-comparison");
      box.append(node("h4", "", comparison.title));
      if (comparison.diff) box.append(drawDiff(comparison.diff));
      if (comparison.charts && comparison.charts.length) box.append(drawCharts(comparison.charts, comparison.legend));
      details.append(box);
    }
    for (const d of model.get("details") || []) {
      const box = node("div", "kepler-journal-detail");
      box.dataset.id = String(d.id);
      box.append(node("h4", "", d.title));
      const facts = node("dl", "kepler-kv");
      for (const [k, v] of d.facts) facts.append(node("dt", "", k), node("dd", "", v));
      box.append(facts);
      for (const f of d.findings) box.append(node("div", "kepler-finding kepler-finding-" + f.severity, f.text));
      if (d.charts && d.charts.length) box.append(drawCharts(d.charts, d.legend));
      details.append(box);
    }
  };

  drawTable();
  drawDetails();
  // Relative times age: redraw them every half minute.
  const clock = setInterval(() => {
    const now = Date.now();
    for (const cell of root.querySelectorAll("[data-time]")) cell.textContent = ago(cell.dataset.time, now);
  }, 30000);
  const tableEvents = ["change:rows", "change:columns", "change:total", "change:page", "change:sort",
    "change:descending", "change:selected", "change:error", "change:title", "change:notice", "change:report",
    "change:shown_columns", "change:show_skipped", "change:skipped"];
  const detailEvents = ["change:details", "change:comparison"];
  for (const e of tableEvents) model.on(e, drawTable);
  for (const e of detailEvents) model.on(e, drawDetails);
  host.append(root);
  return () => {
    clearTimeout(typing);
    clearInterval(clock);
    for (const e of tableEvents) model.off(e, drawTable);
    for (const e of detailEvents) model.off(e, drawDetails);
  };
}

// "What differs": the comparison report's table. A run's colour is its colour in the charts;
// a highlighted value differs from the first run's.
function drawDiff(diff) {
  const box = node("div", "kepler-journal-diff");
  if (!diff.rows.length) {
    box.append(node("div", "kepler-journal-count", "Nothing differs: same settings, data and environment."));
    return box;
  }
  box.append(node("div", "kepler-journal-count", `What differs (highlighted: differs from #${diff.first})`));
  const table = node("table", "kepler-table kepler-diff-table");
  const head = node("tr");
  head.append(node("th", "", "field"));
  for (const run of diff.runs) {
    const th = node("th");
    const swatch = node("span", "kepler-swatch kepler-swatch-run");
    swatch.style.background = run.color;
    th.append(swatch, document.createTextNode(run.label));
    th.title = run.label + " " + run.name;
    head.append(th);
  }
  const thead = node("thead");
  thead.append(head);
  const body = node("tbody");
  for (const row of diff.rows) {
    const tr = node("tr");
    const th = node("th", "", row.field);
    th.title = row.group + ": " + row.field;
    tr.append(th);
    for (const value of row.values) {
      const td = node("td", value.changed ? "kepler-changed" : "", value.text);
      td.title = value.text;
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(thead, body);
  box.append(table);
  if (diff.same) box.append(node("div", "kepler-journal-count", `${diff.same} fields are the same in every run`));
  return box;
}

export default { render };
