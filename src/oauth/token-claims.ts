/** The claims of an access token that say what it may do; read without checking the signature (the server does that). */
export interface TokenClaims {
  aud: string | null;
  tid: string | null;
  appid: string | null;
  /** application permissions */
  roles: string[];
  /** delegated permissions */
  scp: string[];
  upn: string | null;
  expiresAt: Date | null;
}

/**
 * Reads a JWT's payload. Microsoft's access tokens for its own APIs are JWTs today, but Microsoft says
 * clients must not rely on that, so an unreadable token gives empty claims rather than an error.
 */
export function readClaims(token: string): TokenClaims {
  const empty: TokenClaims = { aud: null, tid: null, appid: null, roles: [], scp: [], upn: null, expiresAt: null };
  const payload = token.split(".")[1];
  if (payload === undefined) return empty;
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    return empty;
  }
  const text = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    aud: text(raw.aud),
    tid: text(raw.tid),
    appid: text(raw.appid) ?? text(raw.azp),
    roles: Array.isArray(raw.roles) ? raw.roles.filter((r): r is string => typeof r === "string") : [],
    scp: typeof raw.scp === "string" ? raw.scp.split(" ").filter((s) => s !== "") : [],
    upn: text(raw.upn) ?? text(raw.preferred_username),
    expiresAt: typeof raw.exp === "number" ? new Date(raw.exp * 1000) : null,
  };
}
