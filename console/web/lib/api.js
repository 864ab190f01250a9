// Calls quotad's HTTP API from the browser with the token the person
// pasted, and turns every failure into a sentence they can act on. The
// token lives in sessionStorage: it is gone when the tab closes, and other
// tabs never see it.

/** A failed call: the HTTP status (0 when quotad did not answer), the
 * API's error code, a message in words, and the offending fields of a 422. */
class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || {};
  }
}

/** The token kept under key for this tab. */
export function tokenStore(key) {
  return {
    get: () => sessionStorage.getItem(key) || "",
    set: (t) => sessionStorage.setItem(key, t),
    clear: () => sessionStorage.removeItem(key),
  };
}

/** What an error status means for the person at the page. */
function explain(status, body) {
  const e = (body && body.error) || {};
  switch (status) {
    case 401:
      return "The token was refused (" + (e.message || "unauthorized") + "). Sign in again with a valid token.";
    case 403:
      return "This token may not do that: an admin token is needed.";
    case 404:
      return "Not found: it may have been deleted meanwhile.";
    case 422:
      return e.message === "invalid input" || !e.message ? "Some values are not valid: see the fields marked below." : capitalize(e.message) + ".";
    case 429:
      return "Too many requests: " + (e.message || "try again in a moment") + ".";
    case 503:
      return "quotad cannot reach its database or Redis right now; try again shortly.";
  }
  return capitalize(e.message || "the request failed with HTTP status " + status) + ".";
}

function capitalize(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * A client of the API. onUnauthorized(message) runs after any 401, before
 * the call throws, so the page can ask for a new token.
 */
export function apiClient(tokens, onUnauthorized) {
  async function call(method, path, body, headers, raw) {
    const h = Object.assign({ Accept: "application/json" }, headers || {});
    const token = tokens.get();
    if (token) h.Authorization = "Bearer " + token;
    let payload;
    if (body !== undefined) {
      h["Content-Type"] = h["Content-Type"] || "application/json";
      payload = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, { method, headers: h, body: payload, cache: "no-store", credentials: "omit" });
    } catch (err) {
      throw new ApiError(0, "unreachable", "quotad did not answer: check that it is running, then try again.");
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (err) {
        data = null;
      }
    }
    if (!res.ok) {
      const e = (data && data.error) || {};
      const err = new ApiError(res.status, e.code || "http_" + res.status, explain(res.status, data), e.fields);
      if (res.status === 401 && onUnauthorized) onUnauthorized(err.message);
      throw err;
    }
    return raw ? text : data;
  }
  return {
    get: (path) => call("GET", path),
    put: (path, body) => call("PUT", path, body),
    post: (path, body) => call("POST", path, body),
    patch: (path, body) => call("PATCH", path, body, { "Content-Type": "application/merge-patch+json" }),
    del: (path) => call("DELETE", path),
    // text returns the body as text, asked for as accept (a CSV export).
    text: (path, accept) => call("GET", path, undefined, { Accept: accept }, true),
  };
}
