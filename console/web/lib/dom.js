// Small DOM helpers shared by the console and the portal: building
// elements, telling the person what happened, and formatting numbers,
// dates and durations the same way everywhere.

/**
 * h("button", {class: "primary", onclick: f}, "Save") builds an element.
 * Attributes starting with "on" are listeners; children may be strings,
 * nodes, arrays or null. Text is always set as text, never as HTML.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces everything in el with children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let toastTimer = 0;

/**
 * Shows a message in the page's status line (an ARIA live region, so
 * screen readers announce it): kind "ok" fades after a few seconds,
 * "error" stays until the next message.
 */
export function notify(message, kind) {
  const el = document.getElementById("status");
  if (!el) return;
  clearTimeout(toastTimer);
  el.textContent = message;
  el.className = "status " + (kind || "ok");
  el.hidden = false;
  if (kind !== "error") toastTimer = setTimeout(() => (el.hidden = true), 6000);
}

/**
 * Marks the fields a 422 named: each input whose data-field matches gets
 * aria-invalid and the message under it; fields the form does not show are
 * listed in the form's summary. Returns how many fields were marked.
 */
export function showFieldErrors(form, fields) {
  clearFieldErrors(form);
  const unplaced = [];
  let first = null;
  for (const [name, message] of Object.entries(fields || {})) {
    const input = form.querySelector('[data-field="' + CSS.escape(name) + '"]');
    if (!input) {
      unplaced.push(name + ": " + message);
      continue;
    }
    input.setAttribute("aria-invalid", "true");
    const note = h("p", { class: "field-error", id: "err-" + name.replace(/[^a-z0-9]+/gi, "-"), role: "alert" }, message);
    input.setAttribute("aria-describedby", note.id);
    const holder = input.closest("label, .field");
    if (holder) holder.append(note);
    else input.after(note);
    first = first || input;
  }
  const summary = form.querySelector(".form-errors");
  if (summary && unplaced.length) fill(summary, unplaced.join("; "));
  if (first) first.focus();
  return Object.keys(fields || {}).length;
}

/** Removes what showFieldErrors added. */
export function clearFieldErrors(form) {
  form.querySelectorAll(".field-error").forEach((n) => n.remove());
  form.querySelectorAll("[aria-invalid]").forEach((n) => {
    n.removeAttribute("aria-invalid");
    n.removeAttribute("aria-describedby");
  });
  const summary = form.querySelector(".form-errors");
  if (summary) summary.textContent = "";
}

/** Disables a button while work runs, so a click gives visible feedback
 * and cannot be sent twice. */
export async function busy(button, work) {
  const label = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label + "…";
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = label;
  }
}

const numberFormat = new Intl.NumberFormat("en-US");

/** 1234567 → "1,234,567". */
export function num(n) {
  return numberFormat.format(n);
}

/** A window's length in words: 1 → "second", 60 → "minute", 5400 → "90 minutes", "month". */
export function per(p) {
  if (p === "month") return "month";
  const units = [[86400, "day"], [3600, "hour"], [60, "minute"], [1, "second"]];
  for (const [size, name] of units) {
    if (p % size === 0) {
      const n = p / size;
      return n === 1 ? name : n + " " + name + "s";
    }
  }
  return p + " seconds";
}

/** Seconds until something, in words: "in 42 s", "in 3 min 5 s", "in 2 d 4 h". */
export function inDuration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return "in " + s + " s";
  if (s < 3600) return "in " + Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return "in " + Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return "in " + Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

/** Cents and a currency code → "USD 49.00"; micros → "USD 0.002000" per request. */
export function money(cents, currency) {
  return currency + " " + (cents / 100).toFixed(2);
}

export function micros(m, currency) {
  return currency + " " + (m / 1e6).toFixed(6).replace(/0{1,4}$/, "");
}

/** An RFC 3339 time → "2026-12-06 14:03:22 UTC". */
export function when(iso) {
  if (!iso) return "";
  return iso.replace("T", " ").replace(/(\.\d+)?Z$/, " UTC");
}

/**
 * Asks once more in place of button before an action that cannot be
 * undone: button gives way to "question [label] [Cancel]" until one is
 * chosen. work runs on confirmation, with the confirm button busy; its
 * own messages tell how it went.
 */
export function confirmInPlace(button, question, label, work) {
  const yes = h("button", { type: "button", class: "danger", "data-action": "confirm" }, label);
  const no = h("button", { type: "button", "data-action": "cancel" }, "Cancel");
  const ask = h("span", { class: "confirm", role: "group", "aria-label": question }, question + " ", yes, no);
  const restore = () => {
    ask.remove();
    button.hidden = false;
    button.focus();
  };
  button.hidden = true;
  button.after(ask);
  yes.focus();
  no.addEventListener("click", restore);
  yes.addEventListener("click", () => busy(yes, work).finally(() => {
    if (ask.isConnected) restore();
  }));
}
