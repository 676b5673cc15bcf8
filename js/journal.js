// Kepler's journal table. Display only: the kernel searches, sorts and pages; this draws
// what it is sent and reports the filter text, column clicks, page turns and selected rows.
// Every text is set with textContent, never as HTML.

function node(tag, className, text) {
  const n = document.createElement(tag);
  if (className) n.className = className;
  if (text !== undefined && text !== null) n.textContent = String(text);
  return n;
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
  bar.append(filter, count, exportButton);
  const error = node("div", "kepler-journal-error");
  const notice = node("div", "kepler-journal-count kepler-journal-notice");
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

  const drawTable = () => {
    title.textContent = model.get("title");
    error.textContent = model.get("error");
    notice.textContent = model.get("notice");
    const columns = model.get("columns") || [];
    const rows = model.get("rows") || [];
    const selected = new Set(model.get("selected") || []);
    const sort = model.get("sort");
    const descending = model.get("descending");
    const head = node("thead");
    const headRow = node("tr");
    for (const column of columns) {
      const arrow = column.key === sort ? (descending ? " ▼" : " ▲") : "";
      const th = node("th", column.numeric ? "kepler-num" : "", column.label + arrow);
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
        let cls = column.numeric ? "kepler-num" : "";
        if (column.key === "status") cls += " kepler-status-" + row.status;
        tr.append(node("td", cls, row.cells[column.key]));
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
    if (comparison.charts && comparison.charts.length) {
      const box = node("div", "kepler-journal-detail kepler-journal-comparison");
      box.append(node("h4", "", comparison.title));
      box.append(drawCharts(comparison.charts, comparison.legend));
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
  const tableEvents = ["change:rows", "change:columns", "change:total", "change:page", "change:sort",
    "change:descending", "change:selected", "change:error", "change:title", "change:notice"];
  const detailEvents = ["change:details", "change:comparison"];
  for (const e of tableEvents) model.on(e, drawTable);
  for (const e of detailEvents) model.on(e, drawDetails);
  host.append(root);
  return () => {
    clearTimeout(typing);
    for (const e of tableEvents) model.off(e, drawTable);
    for (const e of detailEvents) model.off(e, drawDetails);
  };
}

export default { render };
