// The one API client: typed by the gateway's OpenAPI document (schema.d.ts is generated from
// web/openapi.json), with the bearer token, refresh-token renewal and problem+json errors.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

const SESSION_KEY = "algoitny.session";

export interface Session {
  access_token: string;
  refresh_token: string;
}

type Listener = (s: Session | null) => void;
let session: Session | null = load();
const listeners = new Set<Listener>();

function load(): Session | null {
  try {
    const raw = localStorage.getItem(SESSION_KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

export function getSession(): Session | null {
  return session;
}

export function setSession(next: Session | null): void {
  session = next;
  if (next) localStorage.setItem(SESSION_KEY, JSON.stringify(next));
  else localStorage.removeItem(SESSION_KEY);
  for (const l of listeners) l(next);
}

export function onSession(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

/** A problem+json answer (or a network failure) as a value the pages can show as a sentence. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public title: string,
    public detail: string,
    public code: string | undefined,
    public retryAfterS: number | null,
    public body: Record<string, unknown>,
  ) {
    super(detail || title);
  }
}

export async function toApiError(resp: Response, parsed?: unknown): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  if (parsed && typeof parsed === "object") body = parsed as Record<string, unknown>;
  else if (!resp.bodyUsed) {
    try {
      body = (await resp.json()) as Record<string, unknown>;
    } catch {
      /* not JSON */
    }
  }
  const retry = resp.headers.get("retry-after");
  return new ApiError(
    resp.status,
    String(body.title ?? resp.statusText ?? ""),
    String(body.detail ?? ""),
    typeof body.code === "string" ? body.code : undefined,
    retry !== null && /^\d+$/.test(retry) ? Number(retry) : null,
    body,
  );
}

let refreshing: Promise<boolean> | null = null;

/** Trade the refresh token for a new pair once, however many requests found the token expired. */
export function renewSession(): Promise<boolean> {
  const current = session;
  if (!current) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const resp = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      });
      if (!resp.ok) {
        setSession(null);
        return false;
      }
      const body = (await resp.json()) as Session;
      setSession({ access_token: body.access_token, refresh_token: body.refresh_token });
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

const auth: Middleware = {
  onRequest({ request }) {
    if (session && !request.headers.has("authorization")) {
      request.headers.set("authorization", `Bearer ${session.access_token}`);
    }
    return request;
  },
};

const retried = new WeakSet<Request>();

/** Idempotent requests (GET, HEAD, or a write carrying an Idempotency-Key) that got no answer at
 * all (the gateway replica serving them went away) are sent again, twice at most: the load
 * balancer then picks a live gateway, and the key makes a repeated write harmless. */
async function fetchRetryingIdempotent(input: Request): Promise<Response> {
  const idempotent = input.method === "GET" || input.method === "HEAD" || input.headers.has("idempotency-key");
  const spare = idempotent ? input.clone() : null;
  try {
    return await fetch(input);
  } catch (err) {
    if (!spare || (err instanceof DOMException && err.name === "AbortError")) throw err;
    for (const wait of [250, 1000]) {
      await new Promise((resolve) => setTimeout(resolve, wait));
      try {
        return await fetch(spare.clone());
      } catch (again) {
        if (again instanceof DOMException && again.name === "AbortError") throw again;
      }
    }
    throw err;
  }
}

/** fetch with one retry after renewing the session when the access token has expired. */
async function fetchWithRenewal(input: Request): Promise<Response> {
  const copy = input.clone();
  const resp = await fetchRetryingIdempotent(input);
  if (resp.status === 401 && session && !retried.has(copy) && !copy.url.includes("/auth/")) {
    if (await renewSession()) {
      retried.add(copy);
      copy.headers.set("authorization", `Bearer ${session!.access_token}`);
      return fetch(copy);
    }
  }
  return resp;
}

export const api = createClient<paths>({ baseUrl: "", fetch: fetchWithRenewal });
api.use(auth);

/** The data of an openapi-fetch answer, or an ApiError thrown. */
export async function ok<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let r;
  try {
    r = await p;
  } catch (e) {
    throw new ApiError(0, "Network error", String(e), "network", null, {});
  }
  if (!r.response.ok) throw await toApiError(r.response, r.error); // openapi-fetch has read the body
  return r.data as T;
}

/** A fresh key per user action: a retried metered request (submit, run, hint) is charged once. */
export function idempotencyKey(): string {
  return `web-${crypto.randomUUID()}`;
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** Server-sent events read with fetch (EventSource cannot send the bearer token). */
export async function followEvents(
  path: string,
  onEvent: (e: SseEvent) => void,
  signal: AbortSignal,
): Promise<void> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (session) headers.authorization = `Bearer ${session.access_token}`;
  let resp = await fetch(path, { headers, signal });
  if (resp.status === 401 && (await renewSession())) {
    headers.authorization = `Bearer ${session!.access_token}`;
    resp = await fetch(path, { headers, signal });
  }
  if (!resp.ok || !resp.body) throw await toApiError(resp);
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value.replace(/\r\n/g, "\n");
    let cut: number;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length === 0) continue;
      let parsed: unknown = data.join("\n");
      try {
        parsed = JSON.parse(parsed as string);
      } catch {
        /* plain text */
      }
      onEvent({ event, data: parsed });
    }
  }
}
