// Small DOM helpers shared by the page's modules.
export const $ = (id) => document.getElementById(id);

const SVG_NS = "http://www.w3.org/2000/svg";

/** An HTML element: `class`, dashed (data-/aria-) and a few attribute names are set as
 * attributes, anything else as a property (e.g. `textContent`, `type`, `disabled`). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.includes("-") || key === "href" || key === "title") node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

export function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

/** A short message at the bottom of the page; `action` adds a button (e.g. "Undo"). */
export function toast(message, kind = "info", action = null) {
  const node = el("div", { class: `toast ${kind}`, "data-testid": `toast-${kind}` }, el("span", {}, message));
  if (action) {
    const button = el("button", { class: "toast-action", type: "button", textContent: action.label });
    button.addEventListener("click", () => { node.remove(); action.run(); });
    node.append(button);
  }
  $("toasts").append(node);
  setTimeout(() => node.classList.add("leaving"), 4200);
  setTimeout(() => node.remove(), 4600);
}

export function initials(name) {
  return name.split(/\s+/).map((part) => part[0]).join("").slice(0, 2).toUpperCase();
}

/** Whether a key press is meant for a text field (then the page's shortcuts stay out of it). */
export function typingIn(target) {
  return target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
}
