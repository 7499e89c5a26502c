import { useEffect } from "react";
import { EventsProvider, useEventsConnected } from "./events";
import { homePath, pageFor, pages } from "./pages";
import { SignInPage } from "./pages/sign-in-page";
import { Link, RouterProvider, useRoute } from "./router";
import { SessionProvider, useMe, useSession } from "./session";
import { EmptyState } from "./ui/notices";

export function App() {
  return (
    <RouterProvider>
      <SessionProvider>
        <Gate />
      </SessionProvider>
    </RouterProvider>
  );
}

function Gate() {
  const { state } = useSession();
  if (state.status === "loading") return <div className="boot" aria-busy="true" />;
  if (state.status === "unreachable")
    return (
      <main className="sign-in" id="main">
        <div className="sign-in-card">
          <h1>Mailroom</h1>
          <div className="notice notice-error" role="alert">
            {state.message}
          </div>
          <button type="button" onClick={() => window.location.reload()}>
            Try again
          </button>
        </div>
      </main>
    );
  if (state.status === "signedOut") return <SignInPage reason={state.reason} />;
  return (
    <EventsProvider>
      <Shell />
    </EventsProvider>
  );
}

function Shell() {
  const me = useMe();
  const { signOut } = useSession();
  const { path, navigate } = useRoute();
  const live = useEventsConnected();
  const page = pageFor(path);

  useEffect(() => {
    if (path === "/" || !page) navigate(homePath(me.role), { replace: true });
  }, [path, page, me.role, navigate]);

  useEffect(() => {
    document.title = page ? `${page.label} · Mailroom` : "Mailroom";
  }, [page]);

  const allowed = page?.roles.includes(me.role) ?? false;
  const Page = page?.component;
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">Mailroom</span>
        <nav aria-label="Main">
          <ul>
            {pages
              .filter((p) => p.roles.includes(me.role))
              .map((p) => (
                <li key={p.path}>
                  <Link to={p.path} aria-current={p === page ? "page" : undefined}>
                    {p.label}
                  </Link>
                </li>
              ))}
          </ul>
        </nav>
        <div className="whoami">
          <span className={live ? "live-dot live" : "live-dot"} title={live ? "Live updates on" : "Live updates paused: reconnecting…"} aria-hidden="true" />
          <span className="sr-only">{live ? "Live updates on" : "Live updates paused"}</span>
          <span>
            {me.username} <span className="muted">({me.role})</span>
          </span>
          <button type="button" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {Page && allowed ? (
          <Page />
        ) : page ? (
          <EmptyState title={`${page.label} is for ${page.roles.join(" and ")} users`}>You are signed in as {me.role}. Ask an administrator if you need it.</EmptyState>
        ) : null}
      </main>
    </div>
  );
}
