import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, get, onSignedOut, post } from "./api/client";
import type { Me } from "./api/types";

export type SessionState =
  | { status: "loading" }
  | { status: "signedOut"; reason?: string }
  | { status: "signedIn"; me: Me }
  | { status: "unreachable"; message: string };

interface Session {
  state: SessionState;
  signIn: (username: string, password: string) => Promise<void>;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

/** Who is signed in: asked of the API once at start (the session cookie is HttpOnly), and after every sign-in. */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: "loading" });

  useEffect(() => {
    let live = true;
    get<Me>("/api/v1/me").then(
      (me) => live && setState({ status: "signedIn", me }),
      (err: unknown) => {
        if (!live) return;
        if (err instanceof ApiError && err.status === 401) setState({ status: "signedOut" });
        else setState({ status: "unreachable", message: err instanceof Error ? err.message : String(err) });
      },
    );
    const stop = onSignedOut(() => setState({ status: "signedOut", reason: "Your session has ended (it expired, or you were signed out). Sign in again to go on." }));
    return () => {
      live = false;
      stop();
    };
  }, []);

  const signIn = useCallback(async (username: string, password: string) => {
    const res = await post<{ user: Me }>("/api/v1/auth/login", { username, password });
    setState({ status: "signedIn", me: { id: res.user.id, username: res.user.username, role: res.user.role } });
  }, []);

  const signOut = useCallback(async () => {
    try {
      await post("/api/v1/auth/logout");
    } finally {
      setState({ status: "signedOut", reason: "You have signed out." });
    }
  }, []);

  const session = useMemo(() => ({ state, signIn, signOut }), [state, signIn, signOut]);
  return <SessionContext.Provider value={session}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession needs a SessionProvider above it");
  return session;
}

/** The signed-in user; only for pages, which render only while someone is signed in. */
export function useMe(): Me {
  const { state } = useSession();
  if (state.status !== "signedIn") throw new Error("useMe is for pages shown to a signed-in user");
  return state.me;
}
