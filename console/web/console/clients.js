// Clients: search by id, filter by tier, page through, and assign a tier
// (with its anchor day) to any client id, listed or not.
import { h, fill, notify, busy, showFieldErrors, clearFieldErrors } from "../lib/dom.js";

const PAGE = 50;

export async function render(ctx) {
  const q = new URLSearchParams(location.hash.split("?")[1] || "");
  const { tiers } = await ctx.api.get("/v1/admin/tiers");
  if (!ctx.current()) return;
  const names = tiers.map((t) => t.name);

  const search = h("input", { type: "search", name: "q", id: "client-search", value: q.get("q") || "", autocomplete: "off", placeholder: "part of an id" });
  const tierFilter = h("select", { name: "tier", id: "tier-filter" }, h("option", { value: "" }, "every tier"), names.map((n) => h("option", { value: n }, n)));
  tierFilter.value = q.get("tier") || "";
  const results = h("div", { id: "client-results", "aria-live": "polite" });
  const filters = h("form", { class: "filters", role: "search", onsubmit: (ev) => { ev.preventDefault(); load(); } },
    h("label", { class: "field" }, "Search by id", search),
    h("label", { class: "field" }, "Tier", tierFilter),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Search")));
  tierFilter.addEventListener("change", () => load());

  let pages = [""];
  const load = async (after) => {
    const params = new URLSearchParams({ limit: PAGE });
    if (search.value.trim()) params.set("q", search.value.trim());
    if (tierFilter.value) params.set("tier", tierFilter.value);
    if (after) params.set("after", after);
    else pages = [""];
    fill(results, h("p", { class: "loading" }, "Loading…"));
    let page;
    try {
      page = await ctx.api.get("/v1/admin/clients?" + params);
    } catch (err) {
      fill(results, h("p", { class: "error", role: "alert" }, err.message));
      return;
    }
    const rows = page.clients.map((c) =>
      h("tr", { "data-client": c.id },
        h("th", { scope: "row" }, h("a", { href: "#/clients/" + encodeURIComponent(c.id) }, c.id)),
        h("td", null, c.tier), h("td", { class: "n" }, c.anchor_day)));
    const prev = pages.length > 1 ? h("button", { type: "button", onclick: () => { pages.pop(); load(pages[pages.length - 1] || undefined); } }, "Previous page") : null;
    const next = page.next ? h("button", { type: "button", onclick: () => { pages.push(page.next); load(page.next); } }, "Next page") : null;
    fill(results,
      rows.length
        ? h("div", { class: "scroll" }, h("table", { id: "clients" },
          h("thead", null, h("tr", null, h("th", null, "Client"), h("th", null, "Tier"), h("th", null, "Anchor day"))),
          h("tbody", null, rows)))
        : h("p", null, "No assigned client matches. Clients never assigned are on free; assign one below."),
      h("div", { class: "actions" }, prev, next));
  };

  fill(ctx.main,
    h("section", { class: "card" }, h("h1", null, "Clients"), filters, results),
    assignForm(ctx, names, () => load()));
  await load();
}

/** The form that puts a client on a tier; also used by the client page. */
export function assignForm(ctx, names, done, client) {
  const id = h("input", { name: "id", "data-field": "id", required: true, autocomplete: "off", value: client ? client.id : "" });
  const tier = h("select", { name: "tier", "data-field": "tier" }, names.map((n) => h("option", { value: n }, n)));
  if (client) tier.value = client.tier;
  const anchor = h("input", { name: "anchor_day", type: "number", min: 1, max: 28, step: 1, "data-field": "anchor_day", value: client ? client.anchor_day : 1 });
  const save = h("button", { type: "submit", class: "primary" }, client ? "Save assignment" : "Assign");
  const form = h("form", { class: "card", id: "assign-form", novalidate: true },
    h("h2", null, client ? "Tier and anchor day" : "Assign a tier"),
    h("div", { class: "grid" },
      client ? null : h("label", { class: "field" }, "Client id (the token's sub)", id),
      h("label", { class: "field" }, "Tier", tier),
      h("label", { class: "field" }, "Anchor day (1-28)", anchor, h("span", { class: "hint" }, "The day of the month its month windows start."))),
    h("p", { class: "form-errors", role: "alert" }),
    h("div", { class: "actions" }, save));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    clearFieldErrors(form);
    const who = id.value.trim();
    if (!who) {
      showFieldErrors(form, { id: "is required" });
      return;
    }
    const body = { tier: tier.value, anchor_day: anchor.value === "" ? null : Number(anchor.value) };
    busy(save, async () => {
      try {
        await ctx.api.put("/v1/admin/clients/" + encodeURIComponent(who), body);
      } catch (err) {
        if (err.status === 422) showFieldErrors(form, err.fields);
        form.querySelector(".form-errors").prepend(err.message + " ");
        notify(who + " was not assigned: " + err.message, "error");
        return;
      }
      notify(who + " is on " + body.tier + " (anchor day " + body.anchor_day + ").", "ok");
      await done(who);
    });
  });
  return form;
}
