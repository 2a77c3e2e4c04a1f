import { DependencyList, useCallback, useState } from 'react';

import { message } from '../format';
import { usePoll } from './usePoll';

/** What a section polls for, as it stands: the last answer, and why the last try failed. */
export interface IPolled<T> {
  /** The last answer; null until the first (the section shows '…'). */
  data: T | null;
  /** One line for a person: why the last try failed; null once a try succeeds. The last answer stays shown. */
  error: string | null;
  /** Ask again now: after an action, or when a section opens. */
  refresh: () => void;
  /** Show what an action answered at once, before the next poll confirms it. */
  replace: (data: T) => void;
}

/**
 * Poll `load` (see usePoll: every `interval` ms while the panel is visible, backing off on failures) and keep its
 * answer and its failure, said as "`failure`: the server's message".
 */
export function usePolled<T>(
  name: string,
  interval: number,
  load: () => Promise<T>,
  deps: DependencyList,
  failure: string
): IPolled<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const poll = usePoll(
    name,
    interval,
    async () => {
      try {
        const data = await load();
        setState({ data, error: null });
      } catch (e) {
        setState(previous => ({ data: previous.data, error: `${failure}: ${message(e)}` }));
        throw e; // the poll backs off
      }
    },
    deps
  );
  const refresh = useCallback(() => void poll.current?.refresh(), [poll]);
  const replace = useCallback((data: T) => setState({ data, error: null }), []);
  return { ...state, refresh, replace };
}
