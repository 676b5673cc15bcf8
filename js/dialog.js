// Kepler's question dialog. Display only: the kernel decides what each answer does.
// Every text comes from the model and is set with textContent, never as HTML.
//
// Messages to the kernel: "ready" when the module loads (this front end shows
// widgets), "shown" once the dialog is on the page and can be answered,
// "failed" (with the error) when it could not be drawn, "answer" on a click.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

// Text with `code` spans: the backticks become <code> elements, not literal characters.
function rich(tag, className, text) {
  const node = el(tag, className);
  String(text || "")
    .split("`")
    .forEach((part, i) => {
      if (!part) return;
      node.append(i % 2 ? el("code", "kepler-code", part) : document.createTextNode(part));
    });
  return node;
}

function initialize({ model }) {
  // Tells the kernel a widget front end is here.
  model.send({ type: "ready" });
}

function draw(model, host) {
  const kind = model.get("kind") || "info";
  const root = el("div", "kepler-widget kepler-dialog kepler-dialog-" + kind);
  root.setAttribute("role", kind === "error" ? "alertdialog" : "dialog");
  root.setAttribute("aria-label", model.get("title") + ": " + model.get("text"));
  // Keys typed in the dialog (Enter on a button) are the dialog's, not JupyterLab's shortcuts.
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  const title = el("div", "kepler-dialog-title");
  if (kind !== "info") title.append(el("span", "kepler-badge kepler-badge-" + kind, kind));
  title.append(document.createTextNode(model.get("title")));
  root.append(title);
  root.append(rich("div", "kepler-dialog-text", model.get("text")));

  const rows = model.get("rows") || [];
  if (rows.length) {
    const table = el("table", "kepler-table kepler-dialog-details");
    const columns = model.get("columns") || [];
    if (columns.length) {
      const head = el("thead");
      const tr = el("tr");
      for (const c of columns) tr.append(el("th", "", c));
      head.append(tr);
      table.append(head);
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
  let defaultButton = null;
  for (const choice of model.get("choices") || []) {
    const button = el("button", "kepler-button" + (choice.default ? " kepler-button-default" : ""), choice.label);
    button.type = "button";
    if (choice.default) {
      defaultLabel = choice.label;
      defaultButton = button;
    }
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
  return { timer, defaultButton };
}

function render({ model, el: host }) {
  let drawn;
  try {
    drawn = draw(model, host);
  } catch (error) {
    host.textContent = "Kepler could not show this question (" + error + "); the kernel answers it instead.";
    model.send({ type: "failed", error: String((error && error.stack) || error) });
    return;
  }
  // "shown" once the dialog is in the page: then a person can see and answer it.
  setTimeout(() => {
    if (drawn.defaultButton && host.isConnected) drawn.defaultButton.focus({ preventScroll: true });
    model.send({ type: "shown" });
  }, 0);
  return () => {
    if (drawn.timer) clearInterval(drawn.timer);
  };
}

export default { initialize, render };
