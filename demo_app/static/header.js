// The open map's header: title, owner, members, and the owner's tools (invite, delete).
import { api } from "./api.js";
import { $, toast } from "./dom.js";

/** `me` is the signed-in user; `leave()` goes back to the map list once the map is deleted. */
export class MapHeader {
  constructor({ mapId, me, leave, signal }) {
    Object.assign(this, { mapId, me, leave });
    this.map = null;
    this.deleteArmed = null;
    $("map-title").textContent = "";
    $("map-owner").textContent = "";
    $("map-private").hidden = true;
    $("owner-tools").hidden = true;
    $("members").hidden = true;
    $("invite-form").addEventListener("submit", (event) => this.invite(event), { signal });
    $("delete-map").addEventListener("click", () => this.deleteMap(), { signal });
    signal.addEventListener("abort", () => this.disarmDelete());
  }

  /** Show `map`, unless the header already shows a newer revision of it (a snapshot read
   * before a change, or a late frame). */
  render(map) {
    if (this.map && (map.revision ?? 0) < (this.map.revision ?? 0)) return;
    this.map = map;
    const mine = map.owner === this.me.name;
    document.title = `${map.title} · bubblemap`;
    $("map-title").textContent = map.title;
    $("map-private").hidden = !map.private;
    $("map-owner").textContent = mine ? "owned by you" : `owned by ${map.owner}`;
    $("owner-tools").hidden = !mine;
    $("members").hidden = !map.private;
    $("members").textContent = map.members.length
      ? `Members: ${map.members.join(", ")}`
      : "Only you can see this map. Invite people by name.";
  }

  /** The map cannot be used any more (no access, deleted): no owner's tools either. */
  disable() {
    $("owner-tools").hidden = true;
  }

  async invite(event) {
    event.preventDefault();
    const name = $("invite-name").value.trim();
    try {
      this.render(await api("POST", `/api/1/maps/${this.mapId}/members`, { name }));
      $("invite-name").value = "";
      toast(`${name} can now open this map.`, "success");
    } catch (error) {
      toast(error.code === "invalid_data" ? "That is not a valid name." : error.message, "error");
    }
  }

  /** The first click arms the button for 4 s; the second deletes. */
  async deleteMap() {
    const button = $("delete-map");
    if (!this.deleteArmed) {
      button.textContent = "Click again to delete";
      button.classList.add("armed");
      this.deleteArmed = setTimeout(() => this.disarmDelete(), 4000);
      return;
    }
    this.disarmDelete();
    try {
      await api("DELETE", `/api/1/maps/${this.mapId}`);
      this.leave();
      toast("Map deleted.", "success");
    } catch (error) {
      toast(error.message, "error");
    }
  }

  disarmDelete() {
    clearTimeout(this.deleteArmed);
    this.deleteArmed = null;
    $("delete-map").textContent = "Delete map";
    $("delete-map").classList.remove("armed");
  }
}
