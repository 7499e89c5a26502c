import { generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from "node:crypto";

/** The claims of an access token the emulator issues (https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference). */
export interface AccessTokenClaims {
  aud: string;
  iss: string;
  tid: string;
  /** the client the token was issued to */
  appid: string;
  azp: string;
  /** application permissions (client credentials) */
  roles?: string[];
  /** delegated permissions, space separated (ROPC) */
  scp?: string;
  /** the signed-in user's object id (delegated), or the client's service principal (application) */
  oid: string;
  /** the signed-in user's mail (delegated tokens only) */
  upn?: string;
  preferred_username?: string;
  iat: number;
  nbf: number;
  exp: number;
  ver: "2.0";
  uti: string;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

/** Signs and checks the emulator's JWTs (RS256, one key, published at /{tenant}/discovery/v2.0/keys). */
export class TokenSigner {
  readonly kid = randomUUID();
  readonly #privateKey: KeyObject;
  readonly #publicKey: KeyObject;

  constructor() {
    const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
    this.#privateKey = pair.privateKey;
    this.#publicKey = pair.publicKey;
  }

  sign(claims: object): string {
    const header = b64url(JSON.stringify({ typ: "JWT", alg: "RS256", kid: this.kid }));
    const body = b64url(JSON.stringify(claims));
    const signature = sign("sha256", Buffer.from(`${header}.${body}`), this.#privateKey);
    return `${header}.${body}.${b64url(signature)}`;
  }

  /** The claims of a token this signer made, or null when it is not one (bad signature, not a JWT). Expiry is the caller's. */
  verify(token: string): AccessTokenClaims | null {
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    const [header, body, signature] = parts as [string, string, string];
    const ok = verify("sha256", Buffer.from(`${header}.${body}`), this.#publicKey, Buffer.from(signature, "base64url"));
    if (!ok) return null;
    try {
      return JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as AccessTokenClaims;
    } catch {
      return null;
    }
  }

  /** The JSON Web Key Set that /discovery/v2.0/keys publishes. */
  jwks(): { keys: object[] } {
    const jwk = this.#publicKey.export({ format: "jwk" });
    return { keys: [{ ...jwk, kid: this.kid, use: "sig", alg: "RS256" }] };
  }
}
