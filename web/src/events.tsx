import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { get } from "./api/client";
import type { MailroomEvent } from "./api/types";

type Listener = (event: MailroomEvent) => void;

interface EventHub {
  subscribe: (listener: Listener) => () => void;
  /** whether the stream is open now; pages say "live updates paused" while it is not */
  connected: boolean;
}

const EventsContext = createContext<EventHub | null>(null);
const eventTypes = ["interaction.created", "interaction.updated", "outbound.updated", "mailbox.status", "mailboxes.changed"] as const;
const retryMs = 5_000;

/**
 * One `/api/v1/events` stream for the whole app while someone is signed in. The browser reconnects with
 * the last event's id and the server replays what it missed; listeners still hear `reconnected` after a
 * gap, and on the server's `resync` (it could not replay), and reload what they show.
 */
export function EventsProvider({ children }: { children: ReactNode }) {
  const listeners = useRef(new Set<Listener>());
  const [connected, setConnected] = useState(false);

  useEffect(() => {
    let source: EventSource | null = null;
    let retry: number | undefined;
    let wasOpen = false;
    let stopped = false;
    const emit = (event: MailroomEvent) => {
      for (const listener of listeners.current) listener(event);
    };
    const open = () => {
      source = new EventSource("/api/v1/events");
      source.onopen = () => {
        setConnected(true);
        if (wasOpen) emit({ type: "reconnected" });
        wasOpen = true;
      };
      source.onerror = () => {
        setConnected(false);
        if (source?.readyState !== EventSource.CLOSED || stopped) return;
        // the browser gives up on a refused stream (a 401 after the session ended); asking who is
        // signed in lets the session notice, and otherwise the stream is tried again
        void get("/api/v1/me").catch(() => undefined);
        retry = window.setTimeout(open, retryMs);
      };
      // the server could not replay what this stream missed (too long away, or another node's gap): read afresh
      source.addEventListener("resync", () => emit({ type: "reconnected" }));
      for (const type of eventTypes) {
        source.addEventListener(type, (e: MessageEvent<string>) => {
          try {
            emit(JSON.parse(e.data) as MailroomEvent);
          } catch {
            // a line that is not JSON is not an event of ours
          }
        });
      }
    };
    open();
    return () => {
      stopped = true;
      window.clearTimeout(retry);
      source?.close();
    };
  }, []);

  const subscribe = useCallback((listener: Listener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);
  const hub = useMemo(() => ({ connected, subscribe }), [connected, subscribe]);
  return <EventsContext.Provider value={hub}>{children}</EventsContext.Provider>;
}

/** Calls `listener` with every event of the stream (and `reconnected`) while the component is shown. */
export function useMailroomEvents(listener: Listener): void {
  const subscribe = useContext(EventsContext)?.subscribe;
  const latest = useRef(listener);
  useEffect(() => {
    latest.current = listener;
  });
  useEffect(() => subscribe?.((e) => latest.current(e)), [subscribe]);
}

/** Whether live updates arrive now. */
export function useEventsConnected(): boolean {
  return useContext(EventsContext)?.connected ?? false;
}
