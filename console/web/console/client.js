// One client: its windows as gauges, its last 30 days as a chart, its
// threshold webhook events, and the admin's actions on it (change tier
// and anchor day, reset the quota, return it to free). The gauges and
// chart refresh every few seconds while the page is open.
import { h, fill, notify, confirmInPlace, when, num } from "../lib/dom.js";
import { gauges, refreshButton, usageChart } from "../lib/widgets.js";
import { assignForm } from "./clients.js";

const REFRESH_MS = 5000;

export async function render(ctx) {
  const id = ctx.params[0];
  const path = "/v1/admin/clients/" + encodeURIComponent(id);
  const [client, { tiers }] = await Promise.all([ctx.api.get(path), ctx.api.get("/v1/admin/tiers")]);
  if (!ctx.current()) return;

  const windows = h("div", { id: "gauges" });
  const chart = h("div", { id: "usage-chart", class: "chart" });
  const events = h("div", { id: "webhook-events" });
  const updated = h("span", { class: "muted", id: "updated" });

  const load = async () => {
    const [quota, usage, ev] = await Promise.all([
      ctx.api.get(path + "/quota"),
      ctx.api.get(path + "/usage"),
      ctx.api.get(path + "/webhook-events"),
    ]);
    if (!ctx.current()) return;
    gauges(windows, quota);
    usageChart(chart, usage);
    eventsTable(events, ev.events);
    updated.textContent = "Updated " + new Date().toLocaleTimeString();
  };
  const refresh = refreshButton(load, () => !ctx.current());

  const reset = h("button", { type: "button", id: "reset-quota" }, "Reset quota");
  reset.addEventListener("click", () => confirmInPlace(reset, "Reset every window of " + id + "?", "Reset", async () => {
    try {
      await ctx.api.del(path + "/quota");
    } catch (err) {
      notify("The quota was not reset: " + err.message, "error");
      return;
    }
    notify("The quota of " + id + " was reset: its current windows start afresh.", "ok");
    await load().catch(() => {});
  }));
  const unassign = h("button", { type: "button", class: "danger", id: "unassign" }, "Return to free");
  unassign.addEventListener("click", () => confirmInPlace(unassign, "Move " + id + " back to free?", "Return to free", async () => {
    try {
      await ctx.api.del(path);
    } catch (err) {
      notify(id + " was not moved: " + err.message, "error");
      return;
    }
    notify(id + " is back on free.", "ok");
    await render(ctx);
  }));

  fill(ctx.main,
    h("p", { class: "crumbs" }, h("a", { href: "#/clients" }, "Clients"), " / ", id),
    h("section", { class: "card" },
      h("div", { class: "card-head" },
        h("h1", null, id),
        h("div", { class: "actions" }, updated, refresh, reset, client.assigned ? unassign : null)),
      h("p", null, "Tier ", h("strong", { id: "client-tier" }, client.tier), client.assigned ? "" : " (by default: never assigned)",
        " · month windows start on day ", h("strong", null, client.anchor_day)),
      h("h2", null, "Windows now"), windows),
    h("section", { class: "card" }, h("h2", null, "Last 30 days"), chart),
    h("section", { class: "card" }, h("h2", null, "Webhook events"), events),
    assignForm(ctx, tiers.map((t) => t.name), () => render(ctx), client));
  await load();

  const timer = setInterval(() => {
    if (!ctx.current()) {
      clearInterval(timer);
      return;
    }
    if (!document.hidden) load().catch(() => {});
  }, REFRESH_MS);
}

function eventsTable(el, events) {
  if (!events.length) {
    fill(el, h("p", null, "No threshold has been reached yet (events are sent at 80 % and 100 % of a month window)."));
    return;
  }
  const rows = events.map((e) =>
    h("tr", { "data-event": e.id },
      h("td", null, when(e.created_at)),
      h("td", null, e.policy),
      h("td", { class: "n" }, e.threshold + " %"),
      h("td", { class: "n" }, num(e.used) + " / " + num(e.limit)),
      h("td", null, h("span", { class: "tag " + e.state }, e.state)),
      h("td", null, e.attempts + (e.last_status ? " (last HTTP " + e.last_status + ")" : "") + (e.last_error ? " " + e.last_error : ""))));
  fill(el, h("div", { class: "scroll" }, h("table", null,
    h("thead", null, h("tr", null, h("th", null, "Seen"), h("th", null, "Window"), h("th", null, "Threshold"), h("th", null, "Used"), h("th", null, "State"), h("th", null, "Attempts"))),
    h("tbody", null, rows))));
}
