// The audit log: every admin write, newest first, a page at a time, with
// the row before and after each write.
import { h, fill, when } from "../lib/dom.js";

export async function render(ctx) {
  const list = h("tbody");
  const more = h("button", { type: "button", id: "older" }, "Older entries");
  const section = h("section", { class: "card" }, h("h1", null, "Audit log"),
    h("p", { class: "hint" }, "Admin writes that succeeded, newest first. Tokens are never recorded; the request id finds the write's log lines."),
    h("div", { class: "scroll" }, h("table", { id: "audit" },
      h("thead", null, h("tr", null, h("th", null, "When"), h("th", null, "Who"), h("th", null, "What"), h("th", null, "On"), h("th", null, "Change"))),
      list)),
    h("div", { class: "actions" }, more));
  let after = "";
  const load = async () => {
    const page = await ctx.api.get("/v1/admin/audit?limit=50" + (after ? "&after=" + encodeURIComponent(after) : ""));
    if (!ctx.current()) return;
    for (const e of page.entries) {
      list.append(h("tr", { "data-entry": e.id },
        h("td", null, when(e.at)),
        h("td", null, e.actor),
        h("td", null, h("code", null, e.action)),
        h("td", null, e.target),
        h("td", null, h("details", null, h("summary", null, "Before and after"),
          h("pre", null, "before: " + JSON.stringify(e.before, null, 2) + "\nafter: " + JSON.stringify(e.after, null, 2)),
          e.request_id ? h("p", { class: "muted" }, "request " + e.request_id) : null))));
    }
    if (!list.children.length) list.append(h("tr", null, h("td", { colspan: 5 }, "No admin writes yet.")));
    after = page.next || "";
    more.hidden = !after;
  };
  more.addEventListener("click", () => load().catch((err) => section.append(h("p", { class: "error", role: "alert" }, err.message))));
  await load();
  fill(ctx.main, section);
}
