// The admin console: a sign-in, then one page per hash route. Each page
// module exports render(ctx) and draws into ctx.main from API calls; the
// router here only picks the page and keeps the navigation in step.
import { apiClient, tokenStore } from "../lib/api.js";
import { fill, h, notify } from "../lib/dom.js";
import { signIn } from "../lib/signin.js";
import * as tiers from "./tiers.js";
import * as clients from "./clients.js";
import * as client from "./client.js";
import * as usage from "./usage.js";
import * as operations from "./operations.js";
import * as audit from "./audit.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const tokens = tokenStore("quotad.console.token");
// signedIn is true while a token is in use: a 401 then means it stopped
// working (it expired, or the secret changed), and whatever page is open
// gives way to the sign-in with the reason. The sign-in's own check
// reports its 401 in its form.
let signedIn = false;
const api = apiClient(tokens, (message) => {
  if (signedIn) showSignIn(message);
});

// Routes: a pattern of the hash, and the page drawing it; capture groups
// are the page's parameters (URL-decoded).
const routes = [
  [/^#\/tiers$/, tiers.render],
  [/^#\/clients$/, clients.render],
  [/^#\/clients\/(.+)$/, client.render],
  [/^#\/usage$/, usage.render],
  [/^#\/operations$/, operations.render],
  [/^#\/audit$/, audit.render],
];

let generation = 0;
// Set when a route change follows an action whose message must stay.
let skipClear = false;

async function route() {
  if (!tokens.get()) {
    showSignIn();
    return;
  }
  signedIn = true;
  const hash = location.hash || "#/tiers";
  const match = routes.map(([re, page]) => [hash.match(re), page]).find(([m]) => m);
  nav.hidden = false;
  for (const a of nav.querySelectorAll("a[href^='#']")) {
    if (hash.startsWith(a.getAttribute("href"))) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (!match) {
    fill(main, h("div", { class: "card" }, h("h1", null, "No such page"), h("p", null, h("a", { href: "#/tiers" }, "Go to the tiers"))));
    return;
  }
  const [m, page] = match;
  const mine = ++generation;
  // A message about the page left behind would read as one about this one.
  if (!skipClear) fill(Object.assign(document.getElementById("status"), { hidden: true }));
  skipClear = false;
  fill(main, h("p", { class: "loading" }, "Loading…"));
  const ctx = {
    api,
    main,
    params: m.slice(1).map(decodeURIComponent),
    // current() is false once the person has moved to another page, so a
    // slow answer does not draw over the page they are on now.
    current: () => mine === generation && main.isConnected,
  };
  try {
    await page(ctx);
  } catch (err) {
    if (!ctx.current()) return;
    fill(main, h("div", { class: "card" }, h("h1", null, "This page could not load"), h("p", { class: "error", role: "alert" }, err.message),
      h("button", { type: "button", onclick: route }, "Try again")));
  }
  if (ctx.current()) main.focus({ preventScroll: true });
}

function showSignIn(message) {
  signedIn = false;
  generation++; // a page still loading must not draw over the form
  tokens.clear();
  nav.hidden = true;
  signIn(main, {
    title: "Sign in to the quotad console",
    hint: "Paste an admin token (a JWT with \"admin\": true), e.g. from `bin/quotad token -sub admin -admin`. It is kept in this tab only.",
    tokens,
    message,
    check: () => api.get("/v1/admin/tiers"),
    onSignedIn: () => {
      notify("Signed in.", "ok");
      skipClear = true;
      if (!location.hash) location.hash = "#/tiers";
      else route();
    },
  });
}

document.getElementById("signout").addEventListener("click", () => {
  tokens.clear();
  notify("Signed out.", "ok");
  showSignIn();
});
window.addEventListener("hashchange", route);
route();
