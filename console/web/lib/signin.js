// The sign-in form both pages start with: the person pastes a token, the
// page checks it with one API call, and keeps it for this tab only.
import { h, fill, busy } from "./dom.js";

/**
 * Shows the form in main. check(token) must resolve when the token works
 * and throw an ApiError otherwise; its message is shown under the field.
 * onSignedIn runs after a successful check.
 */
export function signIn(main, { title, hint, tokens, check, onSignedIn, message }) {
  const input = h("textarea", { id: "token", name: "token", rows: 4, required: true, spellcheck: "false", autocomplete: "off",
    "aria-describedby": "token-hint", "data-field": "token" });
  const error = h("p", { class: "form-errors", role: "alert" }, message || "");
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "card signin", novalidate: true },
    h("h1", null, title),
    h("label", { class: "field", for: "token" }, "Token", input),
    h("p", { id: "token-hint", class: "hint" }, hint),
    error,
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const token = input.value.trim().replace(/^Bearer\s+/i, "");
    if (!token) {
      error.textContent = "Paste a token first.";
      input.focus();
      return;
    }
    error.textContent = "";
    tokens.set(token);
    try {
      await busy(submit, () => check(token));
    } catch (err) {
      tokens.clear();
      error.textContent = err.message;
      input.focus();
      return;
    }
    onSignedIn();
  });
  fill(main, form);
  input.focus();
}
