// Drawing of Kepler's line charts. The kernel lays them out (kepler_nb/presentation/charts.py):
// this only turns that plain data into SVG elements. Labels are set with textContent.
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
  const svg = svgEl("svg", {
    class: "kepler-chart",
    width: chart.width,
    height: chart.height,
    viewBox: `0 0 ${chart.width} ${chart.height}`,
    role: "img",
    "aria-label": chart.title,
  });
  svg.dataset.metric = chart.title;
  svg.append(svgEl("text", { x: f.left, y: 14, class: "kepler-chart-title" }, chart.title));
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
  return svg;
}

function drawLegend(items) {
  const legend = document.createElement("div");
  legend.className = "kepler-legend";
  for (const item of items || []) {
    const entry = document.createElement("span");
    const swatch = document.createElement("span");
    swatch.className = "kepler-swatch";
    swatch.style.background = item.color;
    if (item.kind === "ghost") swatch.style.opacity = "0.35";
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
