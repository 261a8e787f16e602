// The open map's header: title, owner, members, and the owner's tools (rename, invite,
// delete).
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
    $("rename-map").addEventListener("click", () => this.startRename(), { signal });
    $("rename-form").addEventListener("submit", (event) => this.rename(event), { signal });
    $("rename-cancel").addEventListener("click", () => this.endRename(), { signal });
    $("rename-form").addEventListener("keydown", (event) => { if (event.key === "Escape") this.endRename(); }, { signal });
    signal.addEventListener("abort", () => this.endRename({ focus: false }));
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
    this.endRename({ focus: false });
  }

  /** The title becomes a field (the owner's Rename); Escape or Cancel gives it back. */
  startRename() {
    if (!this.map) return;
    $("rename-title").value = this.map.title;
    $("map-title").hidden = true;
    $("rename-form").hidden = false;
    $("rename-title").select();
  }

  endRename({ focus = true } = {}) {
    if ($("rename-form").hidden) return;
    $("rename-form").hidden = true;
    $("map-title").hidden = false;
    if (focus) $("rename-map").focus();
  }

  async rename(event) {
    event.preventDefault();
    try {
      this.render(await api("PATCH", `/api/1/maps/${this.mapId}`, { title: $("rename-title").value.trim() }));
      this.endRename();
      toast("Map renamed.", "success");
    } catch (error) {
      toast(error.code === "invalid_data" ? "A title needs a character other than spaces." : error.message, "error");
    }
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
