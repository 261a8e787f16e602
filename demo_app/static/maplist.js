// The map list: one card per map the user may open, and the form that creates a map.
import { api } from "./api.js";
import { $, el } from "./dom.js";

const RELATIVE = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

/** "5 minutes ago", "yesterday", "just now" for a time in seconds since the epoch. */
export function ago(seconds, now = Date.now() / 1000) {
  const elapsed = now - seconds;
  for (const [unit, size] of UNITS) {
    if (elapsed >= size) return RELATIVE.format(-Math.floor(elapsed / size), unit);
  }
  return "just now";
}

function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** "bob", "bob and zoe", "bob, zoe and 3 more". */
export function names(list, shown = 2) {
  if (list.length <= shown + 1) return list.join(", ").replace(/, ([^,]*)$/, " and $1");
  return `${list.slice(0, shown).join(", ")} and ${list.length - shown} more`;
}

export function mapCard(map, me) {
  const mine = map.owner === me.name;
  const facts = [plural(map.bubble_count ?? 0, "bubble")];
  if (map.private) facts.push(map.members.length ? `with ${names(map.members)}` : "only the owner");
  const changed = map.changed_at ? el("time", { dateTime: new Date(map.changed_at * 1000).toISOString(),
    title: new Date(map.changed_at * 1000).toLocaleString(), "data-testid": "map-changed" },
  `changed ${ago(map.changed_at)}`) : "";
  const card = el("a", { class: "map-card", href: `/maps/${map.id}`, "data-link": "" },
    el("span", { class: `map-card-art art-${map.id % 4}`, "aria-hidden": "true" }),
    el("span", { class: "map-card-title" }, map.title),
    el("span", { class: "map-card-meta" },
      el("span", { class: `tag ${map.private ? "" : "public"}` }, map.private ? "Private" : "Public"),
      el("span", { class: "muted" }, mine ? "by you" : `by ${map.owner}`)),
    el("span", { class: "map-card-facts muted", "data-testid": "map-facts" }, facts.join(" · ")),
    el("span", { class: "map-card-facts muted" }, changed));
  if (map.members.length) card.title = `Members: ${map.members.join(", ")}`;
  return el("li", { "data-testid": "map-item", "data-map-id": String(map.id) }, card);
}

/** `onSignedOut()` when the session is gone, `open(path)` to go to a new map. */
export async function showList(me, { onSignedOut }) {
  document.title = "bubblemap";
  $("list-error").textContent = "";
  let maps = [];
  try {
    maps = await api("GET", "/api/1/maps");
  } catch (error) {
    if (error.status === 401) return onSignedOut();
    $("list-error").textContent = error.message;
  }
  $("map-list").replaceChildren(...maps.map((map) => mapCard(map, me)));
  $("map-list-empty").hidden = maps.length > 0;
}

export function bindNewMapForm({ open, onSignedOut }) {
  $("new-map-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const map = await api("POST", "/api/1/maps", {
        title: $("new-map-title").value.trim(),
        private: $("new-map-private").checked,
      });
      $("new-map-title").value = "";
      open(`/maps/${map.id}`);
    } catch (error) {
      if (error.status === 401) return onSignedOut();
      $("list-error").textContent = error.message;
    }
  });
}
