/**
 * The Data section's "prep" form: what it reads from a profile (its columns, the target it was made with) and how
 * it names a suggestion's decisions. Pure: the unit tests run them without a browser.
 */
import type { IPrepDecision, IPrepSuggestion } from './api';

/** The profile's columns, in the profiled frame's order (the keys of profile.json's `columns`). */
export function profileColumns(profile: Record<string, unknown>): string[] {
  const columns = profile.columns;
  return columns && typeof columns === 'object' && !Array.isArray(columns) ? Object.keys(columns) : [];
}

/** The target the profile was made with (`%eda df --target y`), or null. */
export function profileTarget(profile: Record<string, unknown>): string | null {
  const target = profile.target;
  if (target && typeof target === 'object' && 'column' in target) {
    const column = (target as { column: unknown }).column;
    return typeof column === 'string' ? column : null;
  }
  return null;
}

/**
 * What the target select's first option says: the empty value asks the server for the profile's own target (undefined:
 * not read yet). The column comes first, so a narrow sidebar cuts the explanation rather than the name.
 */
export function ownTargetLabel(own: string | null | undefined): string {
  if (own === undefined) {
    return "(the profile's own)";
  }
  return `${own ?? 'none'} (the profile's own)`;
}

/** How a decision reads at a glance: a column left out, or one kept (with or without a change). */
export function decisionTone(decision: IPrepDecision): 'dropped' | 'left' | 'kept' {
  if (/^dropped\b/.test(decision.done)) {
    return 'dropped';
  }
  return decision.done.startsWith('left: ') ? 'left' : 'kept';
}

/** The line above a suggestion's table: its target and task, and how many columns it drops. */
export function suggestionCaption(suggestion: IPrepSuggestion): string {
  const dropped = suggestion.decisions.filter(d => decisionTone(d) === 'dropped').length;
  const target = suggestion.target ? `${suggestion.target} (${suggestion.task ?? 'auto'})` : 'no target';
  const trees = suggestion.model === 'trees' ? ' · for trees' : '';
  return `Target: ${target} · ${dropped === 0 ? 'no column dropped' : `${dropped} dropped`}${trees}`;
}
