// The demo's REST API (/api/1/...): one function, errors as `ApiError`.

/** A refused REST call: the HTTP status, the API's error code and its message for people. */
export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The API answers an error as `{"error": code, "message", "details"?}` (demo_app/app.py);
 * the nested form `{"error": {code, message}}` is read too, so either server version works. */
export function errorOf(status, data) {
  const error = data?.error;
  if (error && typeof error === "object") {
    return new ApiError(status, error.code ?? null, error.message || `HTTP ${status}`, error.details);
  }
  return new ApiError(status, typeof error === "string" ? error : null, data?.message || `HTTP ${status}`, data?.details);
}

export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    // The server refuses an unsafe request that is not JSON (415, its CSRF rule), body or not.
    headers: method === "GET" ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw errorOf(response.status, data);
  return data;
}
