// Who is on the map: one avatar per person (a person in two tabs is one avatar), from the
// client's live `ns.presence` Map (client id → public identity `{name}`).
import { el, initials } from "./dom.js";

/** The people in `members` (client id → `{name}`), once each, sorted by name. */
export function people(members) {
  const names = new Set();
  for (const member of members.values()) if (member && typeof member.name === "string") names.add(member.name);
  return [...names].sort((a, b) => a.localeCompare(b));
}

/** Draw `members` into `container`: initials in a circle, the full name on hover and for
 * screen readers; `me` is marked. */
export function renderPresence(container, members, me) {
  const names = people(members);
  container.replaceChildren(...names.map((name) => el("span", {
    class: name === me ? "avatar me" : "avatar",
    title: name === me ? `${name} (you)` : name,
    role: "img",
    "aria-label": name === me ? `${name} (you)` : name,
    "data-testid": "avatar",
    "data-name": name,
    textContent: initials(name),
  })));
  container.setAttribute("aria-label", `${names.length} ${names.length === 1 ? "person" : "people"} on this map`);
}
