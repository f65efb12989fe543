// Message view: one block whose kind sets its colour and how assistive technology announces it.
//
// Errors interrupt (role="alert"); warnings, notes and successes wait their turn (role="status").

const ICONS = { error: "✕", warning: "!", info: "i", success: "✓" };
const TITLES = { error: "Error", warning: "Warning", info: "Note", success: "Done" };

function render({ model, el }) {
  const box = document.createElement("div");
  el.append(box);

  function paint() {
    const kind = model.get("kind");
    const items = model.get("items");
    const title = model.get("title");
    box.replaceChildren();
    box.hidden = !kind;
    box.className = kind ? `pw-message pw-message-${kind}` : "pw-message";
    if (!kind) {
      box.removeAttribute("role");
      return;
    }
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.dataset.kind = kind;
    const icon = document.createElement("span");
    icon.className = "pw-message-icon";
    icon.setAttribute("aria-hidden", "true");
    icon.textContent = ICONS[kind];
    const text = document.createElement("div");
    text.className = "pw-message-text";
    // The kind is also said in words: colour alone does not tell it.
    const lead = document.createElement("strong");
    lead.textContent = title || `${TITLES[kind]}:`;
    text.append(lead);
    if (items.length === 1) {
      text.append(` ${items[0]}`);
    } else if (items.length > 1) {
      const list = document.createElement("ul");
      for (const item of items) {
        const entry = document.createElement("li");
        entry.textContent = item;
        list.append(entry);
      }
      text.append(list);
    }
    box.append(icon, text);
  }

  const names = ["kind", "items", "title"];
  for (const name of names) model.on(`change:${name}`, paint);
  paint();
  return () => { for (const name of names) model.off(`change:${name}`, paint); };
}

export default { render };
