// bubblemap's page: who is signed in, and which view shows (sign-in, map list, one map).
//
// The modules by job: api.js (REST), connection.js (a map's namespace), bubbles.js (the
// version rule), board.js (SVG, pan/zoom, gestures), editor.js (text and colour),
// history.js (undo/redo), header.js (title, members, owner's tools), mapview.js (one open
// map, tying those together), maplist.js (the live map list), signin.js, dom.js, when.js
// (relative times). No framework, no build step: the browser loads them as they are.
import { api } from "./api.js";
import { $, initials } from "./dom.js";
import { bindNewMapForm, MapListView } from "./maplist.js";
import { MapView } from "./mapview.js";
import { bindSignIn } from "./signin.js";

const app = { me: null, view: null };

function navigate(path) {
  if (location.pathname !== path) history.pushState(null, "", path);
  route();
}

function showView(id) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== id;
}

function route() {
  app.view?.close();
  app.view = null;
  if (!app.me) {
    showView("view-signin");
    $("signin-name").focus();
    return;
  }
  const match = location.pathname.match(/^\/maps\/(\d+)$/);
  if (match) {
    showView("view-map");
    app.view = new MapView(Number(match[1]), app.me, () => navigate("/"));
  } else {
    showView("view-list");
    app.view = new MapListView(app.me, { onSignedOut: signedOut });
  }
  window.bubblemap = app; // for a look from the console
}

function setMe(me) {
  app.me = me.name ? me : null;
  $("account").hidden = !app.me;
  if (app.me) {
    $("user-name").textContent = app.me.name;
    $("avatar").textContent = initials(app.me.name);
    $("admin-link").hidden = !app.me.admin;
  }
}

function signedOut() {
  setMe({ name: null });
  route();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", route);

bindSignIn((me) => { setMe(me); route(); });
bindNewMapForm({ open: navigate, onSignedOut: signedOut });
$("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/api/1/session").catch(() => null);
  signedOut();
  navigate("/");
});

setMe(await api("GET", "/api/1/session"));
route();
