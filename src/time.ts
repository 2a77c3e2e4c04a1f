/**
 * Times as the panel shows them: short and relative in a narrow column ("5m ago"), in full in its title.
 */
import { Time } from '@jupyterlab/coreutils';

/** "5m ago"; '' when there is no time. */
export function when(epochMs: number | null | undefined): string {
  return epochMs ? Time.formatHuman(new Date(epochMs), 'narrow') : '';
}

/** The date and time in full; '' when there is no time. */
export function fullTime(epochMs: number | null | undefined): string {
  return epochMs ? Time.format(new Date(epochMs)) : '';
}
