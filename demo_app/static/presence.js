// Who is on the map and what each is doing: one avatar per person (a person in two tabs is
// one avatar), in their colour, with "editing bubble 12" while they have a bubble selected;
// and the bubbles others are working on, for the board to ring in their colour. All from
// the client's live `ns.presence` Map (client id → public identity `{name, color, editing}`).
import { el, initials } from "./dom.js";

const COLOR = /^#[0-9a-fA-F]{6}$/;

/** What a member shows, checked: another page's client chose none of it, the server did. */
function shown(member) {
  if (!member || typeof member.name !== "string") return null;
  return {
    name: member.name,
    color: COLOR.test(member.color) ? member.color : null,
    editing: Number.isInteger(member.editing) ? member.editing : null,
  };
}

/** The people in `members`, once each, sorted by name: `{name, color, editing}`, where a
 * person with several tabs is editing what any tab of theirs is. */
export function people(members) {
  const byName = new Map();
  for (const member of members.values()) {
    const person = shown(member);
    if (!person) continue;
    const known = byName.get(person.name);
    if (!known) byName.set(person.name, person);
    else if (known.editing === null) known.editing = person.editing;
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Bubble id → `{name, color}` of someone working on it, from every client in `members`
 * but `self` (this page's own client id). */
export function editorsOf(members, self) {
  const editors = new Map();
  for (const [clientId, member] of members) {
    const person = shown(member);
    if (clientId === self || !person || person.editing === null || editors.has(person.editing)) continue;
    editors.set(person.editing, { name: person.name, color: person.color });
  }
  return editors;
}

/** Draw `members` into `container`: initials in a circle ringed in the person's colour, the
 * full name on hover and for screen readers, and what they are doing; `me` is marked. */
export function renderPresence(container, members, me) {
  const everyone = people(members);
  container.replaceChildren(...everyone.map(({ name, color, editing }) => {
    const avatar = el("span", {
      class: name === me ? "avatar me" : "avatar",
      title: name === me ? `${name} (you)` : name,
      role: "img",
      "aria-label": name === me ? `${name} (you)` : name,
      "data-testid": "avatar",
      "data-name": name,
      textContent: initials(name),
    });
    if (color) avatar.style.setProperty("--person-color", color);
    const person = el("span", { class: "person", "data-testid": "person", "data-name": name }, avatar);
    if (editing !== null) {
      person.append(el("span", { class: "doing", "data-testid": "doing", textContent: `editing bubble ${editing}` }));
    }
    return person;
  }));
  container.setAttribute("aria-label", `${everyone.length} ${everyone.length === 1 ? "person" : "people"} on this map`);
}
