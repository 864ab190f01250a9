// The consumer portal: a client pastes its own token and sees its plan,
// each window with what remains and when it resets, its last 30 days, and
// the plans it could move to. Every call carries that token, so quotad
// answers with this client's data only.
import { apiClient, tokenStore } from "../lib/api.js";
import { h, fill, notify, num, per, money, micros } from "../lib/dom.js";
import { signIn } from "../lib/signin.js";
import { gauges, refreshButton, usageChart } from "../lib/widgets.js";

const REFRESH_MS = 5000;
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const tokens = tokenStore("quotad.portal.token");
// signedIn is true while a token is in use: a 401 then means it stopped
// working, and the page gives way to the sign-in with the reason. The
// sign-in's own check reports its 401 in its form.
let signedIn = false;
const api = apiClient(tokens, (message) => {
  if (signedIn) showSignIn(message);
});
let timer = 0;

function showSignIn(message) {
  clearInterval(timer);
  signedIn = false;
  tokens.clear();
  nav.hidden = true;
  signIn(main, {
    title: "See your quota",
    hint: "Paste the token you call the API with. It is kept in this tab only and sent to this quotad alone.",
    tokens,
    message,
    check: async () => {
      const q = await api.get("/v1/quota");
      if (q.anonymous) throw new Error("That token did not name a client.");
    },
    onSignedIn: () => show(),
  });
}

async function show() {
  signedIn = true;
  nav.hidden = false;
  const windows = h("div", { id: "gauges" });
  const chart = h("div", { id: "usage-chart", class: "chart" });
  const plans = h("div", { id: "plans" });
  const plan = h("div", { id: "plan" });
  const updated = h("span", { class: "muted", id: "updated" });
  fill(main,
    h("section", { class: "card" },
      h("div", { class: "card-head" }, h("h1", { id: "who" }, "Your quota"), h("div", { class: "actions" }, updated, refreshButton(() => load(), () => !signedIn))),
      plan, h("h2", null, "Windows now"), windows),
    h("section", { class: "card" }, h("h2", null, "Last 30 days"), chart),
    h("section", { class: "card" }, h("h2", null, "Plans"), plans));

  const load = async () => {
    const [quota, usage, list] = await Promise.all([api.get("/v1/quota"), api.get("/v1/usage"), api.get("/v1/tiers")]);
    fill(main.querySelector("#who"), "Your quota: " + quota.id);
    const mine = list.tiers.find((t) => t.name === quota.tier);
    fill(plan, h("p", null, "Plan ", h("strong", { id: "plan-name" }, quota.tier),
      mine ? " · " + money(mine.price_cents, mine.currency) : "",
      mine && mine.description ? " · " + mine.description : ""));
    gauges(windows, quota);
    usageChart(chart, usage);
    fill(plans, h("div", { class: "plans" }, list.tiers.filter((t) => t.name !== "anonymous").map((t) =>
      h("article", { class: "plan" + (t.name === quota.tier ? " current" : ""), "data-tier": t.name },
        h("h3", null, t.name, t.name === quota.tier ? h("span", { class: "tag" }, "your plan") : null),
        h("p", { class: "price" }, money(t.price_cents, t.currency)),
        t.description ? h("p", null, t.description) : null,
        h("ul", null, t.limits.map((w) => h("li", null, num(w.limit) + " per " + per(w.per) + (w.soft ? ", then " + micros(t.overage_price_micros, t.currency) + " per request" : ""))))))),
    h("p", { class: "hint" }, "To change plan, ask the service that gave you your token."));
    updated.textContent = "Updated " + new Date().toLocaleTimeString();
  };
  try {
    await load();
  } catch (err) {
    if (!signedIn) return;
    fill(main, h("div", { class: "card" }, h("h1", null, "Your quota could not load"), h("p", { class: "error", role: "alert" }, err.message),
      h("button", { type: "button", onclick: show }, "Try again")));
    return;
  }
  main.focus({ preventScroll: true });
  clearInterval(timer);
  timer = setInterval(() => {
    if (document.hidden) return;
    load().catch(() => {}); // a 401 signs out; anything else waits for the next tick
  }, REFRESH_MS);
}

document.getElementById("signout").addEventListener("click", () => {
  notify("Signed out.", "ok");
  showSignIn();
});
if (tokens.get()) show();
else showSignIn();
