// Sign-in with a name and a password: the first sign-in with a name creates the account.
import { api } from "./api.js";
import { $ } from "./dom.js";

/** What to say when the server refuses a sign-in: its own message, made friendlier for the
 * cases a person can fix. */
export function signInError(error) {
  if (error.status === 401) return error.message && error.message !== "HTTP 401" ? error.message : "Wrong password for this name.";
  if (error.code === "invalid_data" && /name/i.test(error.message) && !/password/i.test(error.message)) {
    return `${error.message} — use up to 32 letters, digits, spaces, dots, dashes or underscores.`;
  }
  return error.message;
}

/** `signedIn(me)` once the server accepted the name and password. */
export function bindSignIn(signedIn) {
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    const submit = $("signin-submit");
    submit.disabled = true;
    try {
      const me = await api("POST", "/api/1/session", {
        name: $("signin-name").value.trim(),
        password: $("signin-password").value,
      });
      $("signin-password").value = "";
      signedIn(me);
    } catch (error) {
      $("signin-error").textContent = signInError(error);
    } finally {
      submit.disabled = false;
    }
  });
}
