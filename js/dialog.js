// Kepler's question dialog. Display only: the kernel decides what each answer does.
// Every text comes from the model and is set with textContent, never as HTML.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function initialize({ model }) {
  // Tells the kernel a widget front end is here and can answer.
  model.send({ type: "ready" });
}

function render({ model, el: host }) {
  const root = el("div", "kepler-widget kepler-dialog");
  root.setAttribute("role", "dialog");
  root.setAttribute("aria-label", model.get("title") + ": " + model.get("text"));
  root.append(el("div", "kepler-dialog-title", model.get("title")));
  root.append(el("div", "kepler-dialog-text", model.get("text")));

  const rows = model.get("rows") || [];
  if (rows.length) {
    const table = el("table", "kepler-table kepler-dialog-details");
    const columns = model.get("columns") || [];
    if (columns.length) {
      const tr = el("tr");
      for (const c of columns) tr.append(el("th", "", c));
      table.append(el("thead")).append(tr);
    }
    const body = el("tbody");
    for (const row of rows) {
      const tr = el("tr");
      for (const cell of row) tr.append(el("td", "", cell));
      body.append(tr);
    }
    table.append(body);
    root.append(table);
  }

  const buttons = el("div", "kepler-dialog-buttons");
  const status = el("div", "kepler-dialog-status");
  const all = [];
  let defaultLabel = "";
  for (const choice of model.get("choices") || []) {
    const button = el("button", "kepler-button" + (choice.default ? " kepler-button-default" : ""), choice.label);
    button.type = "button";
    if (choice.default) defaultLabel = choice.label;
    button.addEventListener("click", () => {
      for (const b of all) b.disabled = true;
      status.textContent = "Answered: " + choice.label;
      model.send({ type: "answer", choice: choice.key });
    });
    all.push(button);
    buttons.append(button);
  }
  root.append(buttons);
  root.append(status);

  const timeout = model.get("timeout_s");
  let timer = null;
  if (timeout !== null && timeout !== undefined) {
    const end = Date.now() + timeout * 1000;
    const tick = () => {
      if (all.length && all[0].disabled) return;
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      const clock = left >= 60 ? Math.floor(left / 60) + " min " + (left % 60) + " s" : left + " s";
      status.textContent = "Waiting for your answer; " + defaultLabel + " in " + clock + " if nobody answers.";
    };
    tick();
    timer = setInterval(tick, 1000);
  } else {
    status.textContent = "Waiting for your answer.";
  }
  host.append(root);
  return () => {
    if (timer) clearInterval(timer);
  };
}

export default { initialize, render };
