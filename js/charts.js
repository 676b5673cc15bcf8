// Drawing of Kepler's line charts. The kernel lays them out (kepler_nb/presentation/charts.py,
// style in chart_style.py): this only turns that plain data into SVG elements, and shows the
// values under the pointer. Labels are set with textContent.
// Shared by live.js and journal.js: the kernel joins it in front of each of them.

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function drawChart(chart) {
  const f = chart.frame;
  const box = document.createElement("div");
  box.className = "kepler-chart-box";
  const svg = svgEl("svg", {
    class: "kepler-chart",
    width: chart.width,
    height: chart.height,
    viewBox: `0 0 ${chart.width} ${chart.height}`,
    role: "img",
    "aria-label": chart.y_label || chart.title,
  });
  svg.dataset.metric = chart.title;
  svg.dataset.scale = chart.log ? "log" : "linear";
  svg.append(svgEl("text", { x: f.left, y: 14, class: "kepler-chart-title" }, chart.title));
  const middle = (f.top + f.bottom) / 2;
  svg.append(svgEl("text", { x: (f.left + f.right) / 2, y: f.bottom + 26, "text-anchor": "middle", class: "kepler-axis-title" }, chart.x_label));
  svg.append(svgEl("text", { transform: `translate(11,${middle}) rotate(-90)`, "text-anchor": "middle", class: "kepler-axis-title" }, chart.y_label));
  for (const t of chart.y_ticks) {
    svg.append(svgEl("line", { x1: f.left, x2: f.right, y1: t.at, y2: t.at, class: "kepler-grid" }));
    svg.append(svgEl("text", { x: f.left - 4, y: t.at + 3, "text-anchor": "end" }, t.label));
  }
  for (const t of chart.x_ticks) {
    svg.append(svgEl("text", { x: t.at, y: f.bottom + 13, "text-anchor": "middle" }, t.label));
  }
  svg.append(svgEl("line", { x1: f.left, x2: f.right, y1: f.bottom, y2: f.bottom, class: "kepler-axis" }));
  svg.append(svgEl("line", { x1: f.left, x2: f.left, y1: f.top, y2: f.bottom, class: "kepler-axis" }));
  const draw = (line, className) => {
    for (const points of line.segments) {
      const cls = className + (line.dashed ? " kepler-line-val" : "");
      let node;
      if (points.includes(" ")) {
        node = svgEl("polyline", { points, class: cls, stroke: line.color });
      } else {
        const [cx, cy] = points.split(",");
        node = svgEl("circle", { cx, cy, r: 2.5, fill: line.color, class: cls });
      }
      node.dataset.kind = line.kind;
      node.append(svgEl("title", {}, line.label + (line.last ? " " + line.last : "")));
      svg.append(node);
    }
  };
  for (const line of chart.behind || []) draw(line, "kepler-line-ghost");
  for (const line of chart.lines || []) draw(line, "kepler-line");
  box.append(svg);
  addHover(box, svg, chart);
  return box;
}

// Under the pointer (mouse, pen or touch), or moved with the arrow keys once the chart has focus:
// a guide at an epoch and every curve's value there.
function addHover(box, svg, chart) {
  const xs = chart.epoch_x || [];
  if (!xs.length) return;
  const f = chart.frame;
  const guide = svgEl("line", { y1: f.top, y2: f.bottom, class: "kepler-guide", visibility: "hidden" });
  svg.append(guide);
  const tip = document.createElement("div");
  tip.className = "kepler-tooltip";
  tip.hidden = true;
  tip.setAttribute("role", "status"); // read out as the keys move it
  box.append(tip);
  let shown = -1;
  const hide = () => {
    tip.hidden = true;
    guide.setAttribute("visibility", "hidden");
    shown = -1;
  };
  const showAt = (i) => {
    const rows = [];
    for (const line of [...(chart.lines || []), ...(chart.behind || [])]) {
      const value = (line.values || [])[i];
      if (value !== undefined && value !== null) rows.push([line.color, line.label, value]);
    }
    if (!rows.length) return hide();
    shown = i;
    guide.setAttribute("x1", xs[i]);
    guide.setAttribute("x2", xs[i]);
    guide.setAttribute("visibility", "visible");
    tip.replaceChildren();
    const head = document.createElement("div");
    head.className = "kepler-tooltip-head";
    head.textContent = "epoch " + (i + 1);
    tip.append(head);
    for (const [color, label, value] of rows) {
      const row = document.createElement("div");
      const swatch = document.createElement("span");
      swatch.className = "kepler-swatch";
      swatch.style.background = color;
      row.append(swatch, document.createTextNode(label + " " + value));
      tip.append(row);
    }
    tip.hidden = false;
    const width = svg.getBoundingClientRect().width || chart.width;
    const left = (xs[i] / chart.width) * width;
    tip.style.left = left > width / 2 ? "" : left + 8 + "px";
    tip.style.right = left > width / 2 ? width - left + 8 + "px" : "";
  };
  const lines = [...(chart.lines || []), ...(chart.behind || [])];
  const last = Math.max(0, ...lines.map((line) => (line.values || []).length - 1)); // the newest epoch drawn
  svg.setAttribute("tabindex", "0");
  svg.addEventListener("pointerleave", () => {
    if (document.activeElement !== svg) hide();
  });
  svg.addEventListener("pointermove", (event) => {
    const rect = svg.getBoundingClientRect();
    const x = ((event.clientX - rect.left) * chart.width) / (rect.width || chart.width);
    let i = 0;
    for (let j = 1; j < xs.length; j++) if (Math.abs(xs[j] - x) < Math.abs(xs[i] - x)) i = j;
    showAt(i);
  });
  svg.addEventListener("focus", () => showAt(shown >= 0 ? shown : last));
  svg.addEventListener("blur", hide);
  svg.addEventListener("keydown", (event) => {
    const step = { ArrowLeft: -1, ArrowRight: 1, Home: -xs.length, End: xs.length }[event.key];
    if (step === undefined) return;
    event.preventDefault(); // the notebook's own keys stay with the notebook otherwise
    event.stopPropagation();
    showAt(Math.min(last, Math.max(0, (shown >= 0 ? shown : last) + step)));
  });
}

function drawLegend(items) {
  const legend = document.createElement("div");
  legend.className = "kepler-legend";
  for (const item of items || []) {
    const entry = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "kepler-swatch";
    swatch.style.background = item.color;
    if (item.kind === "ghost") swatch.style.opacity = "0.6";
    if (item.dashed) swatch.style.background = `repeating-linear-gradient(90deg, ${item.color} 0 5px, transparent 5px 8px)`;
    entry.append(swatch, document.createTextNode(item.label));
    legend.append(entry);
  }
  return legend;
}

function drawCharts(charts, legend) {
  const box = document.createElement("div");
  const row = document.createElement("div");
  row.className = "kepler-charts";
  for (const chart of charts || []) row.append(drawChart(chart));
  box.append(row);
  if (legend && legend.length) box.append(drawLegend(legend));
  return box;
}
