import { createContext, useCallback, useContext, useEffect, useMemo, useState, type AnchorHTMLAttributes, type MouseEvent, type ReactNode } from "react";

interface Route {
  /** the path, e.g. "/mailboxes/42" */
  path: string;
  /** the query string's values */
  search: URLSearchParams;
  /** opens another page of the app without a reload; `replace` keeps the browser history as it is */
  navigate: (to: string, options?: { replace?: boolean }) => void;
}

const RouteContext = createContext<Route | null>(null);

function currentLocation() {
  return { path: window.location.pathname, search: window.location.search };
}

/** The app's pages are real paths (Mailroom serves index.html for each), so reload and links work. */
export function RouterProvider({ children }: { children: ReactNode }) {
  const [location, setLocation] = useState(currentLocation);
  useEffect(() => {
    const onPop = () => setLocation(currentLocation());
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const navigate = useCallback((to: string, options?: { replace?: boolean }) => {
    if (options?.replace) window.history.replaceState(null, "", to);
    else window.history.pushState(null, "", to);
    setLocation(currentLocation());
  }, []);
  const route = useMemo<Route>(
    () => ({ path: location.path, search: new URLSearchParams(location.search), navigate }),
    [location.path, location.search, navigate],
  );
  return <RouteContext.Provider value={route}>{children}</RouteContext.Provider>;
}

export function useRoute(): Route {
  const route = useContext(RouteContext);
  if (!route) throw new Error("useRoute needs a RouterProvider above it");
  return route;
}

/** A link to a page of the app: a real <a> (open in a new tab works), followed without a reload. */
export function Link({ to, children, onClick, ...rest }: { to: string; children: ReactNode } & Omit<AnchorHTMLAttributes<HTMLAnchorElement>, "href">) {
  const { navigate } = useRoute();
  const follow = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={follow} {...rest}>
      {children}
    </a>
  );
}
