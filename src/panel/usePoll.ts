import { DependencyList, MutableRefObject, useEffect, useRef } from 'react';

import { Poll } from '@lumino/polling';

export type SectionPoll = Poll<void, unknown, 'stopped'>;

/** Longest wait between tries while the server does not answer. */
const MAX_BACKOFF_MS = 30 * 1000;

/**
 * Run `tick` every `interval` ms while the panel is visible; failures back off (doubling) up to 30 s, as
 * dask-labextension does. The latest `tick` is always the one called; `deps` restart the poll.
 * Returns the poll, for an immediate `refresh()`.
 */
export function usePoll(
  name: string,
  interval: number,
  tick: () => Promise<void>,
  deps: DependencyList
): MutableRefObject<SectionPoll | null> {
  const poll = useRef<SectionPoll | null>(null);
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    const next: SectionPoll = new Poll({
      factory: () => latest.current(),
      frequency: { interval, backoff: true, max: MAX_BACKOFF_MS },
      standby: 'when-hidden',
      name
    });
    poll.current = next;
    return () => {
      poll.current = null;
      next.dispose();
    };
  }, [name, interval, ...deps]);
  return poll;
}
