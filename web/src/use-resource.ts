import { useCallback, useEffect, useRef, useState } from "react";
import type { MailroomEvent } from "./api/types";
import { useMailroomEvents } from "./events";

export interface Resource<T> {
  /** the last data loaded; kept while a reload runs, so nothing jumps */
  data: T | undefined;
  /** why the last load failed, if it did */
  error: Error | undefined;
  /** true until the first load has finished */
  loading: boolean;
  /** true while `data` is what an earlier key loaded (other filters, say): the current key's load has not succeeded yet */
  stale: boolean;
  reload(): void;
}

/**
 * Loads `load()` when `key` changes, and again when an event of the stream makes `reloadOn` say so
 * (and always after the stream reconnects). Reloads that arrive while one runs are folded into one
 * more, so a burst of 500 new interactions costs two requests, not 500.
 */
export function useResource<T>(key: string, load: () => Promise<T>, reloadOn?: (event: MailroomEvent) => boolean): Resource<T> {
  const [state, setState] = useState<{ data: T | undefined; error: Error | undefined; loaded: boolean; dataKey: string }>({
    data: undefined,
    error: undefined,
    loaded: false,
    dataKey: key,
  });
  const loader = useRef(load);
  useEffect(() => {
    loader.current = load;
  });
  const running = useRef(false);
  const again = useRef(false);
  const currentKey = useRef(key);

  // a ref, so that the loop can call itself again after a load (a callback may not name itself)
  const runRef = useRef<() => void>(() => undefined);
  useEffect(() => {
    runRef.current = () => {
      if (running.current) {
        again.current = true;
        return;
      }
      running.current = true;
      const forKey = currentKey.current;
      loader
        .current()
        .then(
          (data) => {
            if (forKey === currentKey.current) setState({ data, error: undefined, loaded: true, dataKey: forKey });
          },
          (err: unknown) => {
            if (forKey === currentKey.current) setState((s) => ({ ...s, error: err instanceof Error ? err : new Error(String(err)), loaded: true }));
          },
        )
        .finally(() => {
          running.current = false;
          if (again.current || forKey !== currentKey.current) {
            again.current = false;
            runRef.current();
          }
        });
    };
  }, []);
  const run = useCallback(() => runRef.current(), []);

  useEffect(() => {
    currentKey.current = key;
    run();
  }, [key, run]);

  useMailroomEvents((event) => {
    if (event.type === "reconnected" || reloadOn?.(event)) run();
  });

  return { data: state.data, error: state.error, loading: !state.loaded, stale: state.data !== undefined && state.dataKey !== key, reload: run };
}
