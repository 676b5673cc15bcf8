// Kepler's live view of a training run: the progress line, one chart per metric, the findings.
// Display only: the kernel lays out the charts and writes every text.

function initialize({ model }) {
  model.send({ type: "ready" });
}

function render({ model, el: host }) {
  const root = document.createElement("div");
  root.className = "kepler-widget kepler-live";
  const title = document.createElement("div");
  title.className = "kepler-dialog-title";
  const progress = document.createElement("div");
  progress.className = "kepler-live-progress";
  const chartBox = document.createElement("div");
  chartBox.className = "kepler-live-charts";
  const note = document.createElement("div");
  note.className = "kepler-dialog-status";
  const findings = document.createElement("div");
  findings.className = "kepler-live-findings";
  root.append(title, progress, chartBox, note, findings);

  const update = () => {
    title.textContent = model.get("title");
    progress.textContent = model.get("progress");
    note.textContent = model.get("note");
    chartBox.replaceChildren(drawCharts(model.get("charts"), model.get("legend")));
    findings.replaceChildren();
    for (const f of model.get("findings") || []) {
      const line = document.createElement("div");
      line.className = "kepler-finding kepler-finding-" + f.severity;
      line.textContent = f.text;
      findings.append(line);
    }
  };
  update();
  const events = ["change:title", "change:progress", "change:charts", "change:legend", "change:findings", "change:note"];
  for (const e of events) model.on(e, update);
  host.append(root);
  return () => {
    for (const e of events) model.off(e, update);
  };
}

export default { initialize, render };
