import React from 'react';

import { count } from '../format';
import { EmptyState } from './Section';
import { IPolled } from './usePolled';

/** What is known of a polled thing: its last answer (null before the first) and why the last try failed. */
export type PolledState<T> = Pick<IPolled<T>, 'data' | 'error'>;

/** Why the last try failed, when it did. */
export function PollError(props: { polled: Pick<IPolled<unknown>, 'error'> }): JSX.Element | null {
  return props.polled.error ? (
    <div className="mlops-Error" role="alert">
      {props.polled.error}
    </div>
  ) : null;
}

const isEmptyList = (data: unknown): boolean => Array.isArray(data) && data.length === 0;

/**
 * What a section shows for something it polls: why the last try failed (the last answer stays shown below it), then
 * a wait until the first answer, the empty state when the answer holds nothing, or the answer itself.
 */
export function Polled<T>(props: {
  polled: PolledState<T>;
  /** Shown until the first answer; nothing by default (the section's badge says '…'). */
  loading?: React.ReactNode;
  /** Whether an answer holds nothing; by default, whether it is an empty list. */
  isEmpty?: (data: T) => boolean;
  /** What an empty answer shows: what will appear here, and how to make it appear. */
  empty: React.ReactNode;
  children: (data: T) => React.ReactNode;
}): JSX.Element {
  const { data, error } = props.polled;
  let body: React.ReactNode = null;
  if (data === null) {
    body = error ? null : (props.loading ?? null);
  } else if ((props.isEmpty ?? isEmptyList)(data)) {
    body = <EmptyState>{props.empty}</EmptyState>;
  } else {
    body = props.children(data);
  }
  return (
    <>
      <PollError polled={props.polled} />
      {body}
    </>
  );
}

/** A section's badge for a polled list: '…' until the first answer, then 'none' or "3 profiles". */
export function listBadge(items: readonly unknown[] | null | undefined, one: string, many?: string): string {
  if (!items) {
    return '…';
  }
  return items.length ? count(items.length, one, many) : 'none';
}
