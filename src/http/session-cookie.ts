/** The name of the HttpOnly cookie that carries a browser's session token. */
export const sessionCookie = "mailroom_session";
