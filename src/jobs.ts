/**
 * The Jobs section's text and arithmetic, apart from React: a run's line (state, trigger, duration, progress), the
 * Run now form's fields from the notebook's declared parameters, and a job name from a notebook's path. Pure
 * functions, unit-tested.
 */
import type { IJob, IJobRun, JobRunState } from './api';

/** A run that may still change: the section polls it every second. */
export const isActive = (state: JobRunState): boolean => state === 'queued' || state === 'running';

/** "0.8 s", "42 s", "3 min 5 s", "2 h 5 min". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) {
    return '';
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  const whole = Math.round(seconds);
  if (whole < 60) {
    return `${whole} s`;
  }
  if (whole < 3600) {
    const s = whole % 60;
    return `${Math.floor(whole / 60)} min${s ? ` ${s} s` : ''}`;
  }
  const min = Math.floor((whole % 3600) / 60);
  return `${Math.floor(whole / 3600)} h${min ? ` ${min} min` : ''}`;
}

/** How long a run took, or has been running until `now` (epoch ms); null before it starts. */
export function runSeconds(run: IJobRun, now: number): number | null {
  if (run.duration_s !== null && run.duration_s !== undefined) {
    return run.duration_s;
  }
  const started = run.started_at ? Date.parse(run.started_at) : NaN;
  if (Number.isNaN(started) || !isActive(run.state)) {
    return null;
  }
  return Math.max(0, (now - started) / 1000);
}

/**
 * How long until a schedule's next run: "in 40 s", "in 12 min", "in 9 h", "in 3 d" (JupyterLab's Time.formatHuman
 * rounds a time ahead up to the next unit: 10 hours ahead read "next yr."); "now" once it is due.
 */
export function untilText(epochMs: number, now: number): string {
  const seconds = (epochMs - now) / 1000;
  if (seconds < 1) {
    return 'now';
  }
  for (const [unit, size] of [
    ['d', 86400],
    ['h', 3600],
    ['min', 60]
  ] as const) {
    if (seconds >= size) {
      return `in ${Math.floor(seconds / size)} ${unit}`;
    }
  }
  return `in ${Math.floor(seconds)} s`;
}

/** The cells done and in all, with the share done (null while the total is unknown). */
export interface IProgress {
  done: number;
  total: number | null;
  fraction: number | null;
  label: string;
}

export function runProgress(run: IJobRun): IProgress {
  const done = run.cells_done;
  const total = run.cells_total ?? null;
  if (total === null) {
    return { done, total, fraction: null, label: run.state === 'queued' ? 'queued' : `${done} ${done === 1 ? 'cell' : 'cells'} done` };
  }
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  return { done, total, fraction, label: `${done} / ${total} cells` };
}

/** A schedule time as the controller sends it (ISO 8601 with its offset), short: "2026-05-01 06:00". */
function scheduleTime(iso: string): string {
  return iso
    .replace(/(\.\d+)?([+-]\d\d:\d\d|Z)$/, '')
    .replace('T', ' ')
    .replace(/(\d\d:\d\d):00$/, '$1');
}

/** What started a run, in a few words: "run now", "cron 2026-05-01 06:00", "new file data/x.parquet". */
export function triggerText(run: Pick<IJobRun, 'trigger' | 'trigger_detail'>): string {
  const detail = run.trigger_detail ? ` ${run.trigger_detail}` : '';
  switch (run.trigger) {
    case 'manual':
      return 'run now';
    case 'token':
      return 'API token';
    case 'cron':
      return `cron${scheduleTime(detail)}`;
    case 'data':
      return `new file${detail}`;
    case 'event':
      return `event${detail}`;
    default:
      return String(run.trigger);
  }
}

/** A run as one line: "#3 succeeded · run now · 4.2 s". */
export function runLine(run: IJobRun, now: number): string {
  const seconds = runSeconds(run, now);
  const parts = [`#${run.number} ${run.state.replace('_', ' ')}`, triggerText(run)];
  if (seconds !== null) {
    parts.push(formatDuration(seconds));
  }
  return parts.join(' · ');
}

/** One field of the Run now form: a parameter the notebook declares, and the text it starts with. */
export interface IParameterField {
  name: string;
  /** int, float, bool, str, list, dict, none or any (mlops_magics/jobs/parameters.py). */
  kind: string;
  /** The default as the notebook writes it. */
  written: string;
  /** What the field shows first: the job's own value, else the notebook's default, as one would type it. */
  initial: string;
}

/** A Python string literal's text when it is a plain one ('eu', "eu"); null when it is not that simple. */
function plainString(written: string): string | null {
  const match = /^(['"])(.*)\1$/s.exec(written.trim());
  if (!match || match[2].includes('\\') || match[2].includes(match[1])) {
    return null;
  }
  return match[2];
}

/** The default as it is typed in a field: a string without its quotes, True as true, None as nothing. */
export function defaultText(kind: string, written: string): string {
  const text = written.trim();
  if (kind === 'str') {
    return plainString(text) ?? text;
  }
  if (kind === 'bool') {
    return text === 'True' ? 'true' : text === 'False' ? 'false' : text;
  }
  if (kind === 'none' && text === 'None') {
    return '';
  }
  return text;
}

/** A JSON value as it is typed in a field: a string as is, anything else as JSON. */
export function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The Run now form's fields: each parameter of `declared` ({alpha: "float = 0.5"}, as the job view sends it),
 * starting from the job's own value when it has one, else from the notebook's default.
 */
export function parameterFields(
  declared: IJob['parameters_declared'],
  given: Record<string, unknown> | undefined
): IParameterField[] {
  return Object.entries(declared).map(([name, described]) => {
    const at = described.indexOf(' = ');
    const kind = at < 0 ? 'any' : described.slice(0, at);
    const written = at < 0 ? described : described.slice(at + 3);
    const own = given && Object.prototype.hasOwnProperty.call(given, name);
    return { name, kind, written, initial: own ? valueText(given[name]) : defaultText(kind, written) };
  });
}

/**
 * What Run now sends as `parameters_text`: only the fields changed from what they started with, so a value the
 * form cannot show exactly (a default such as `np.arange(3)`) is left to the job and the notebook.
 */
export function changedParameters(fields: IParameterField[], values: Record<string, string>): Record<string, string> {
  const changed: Record<string, string> = {};
  for (const field of fields) {
    const value = values[field.name];
    if (value !== undefined && value !== field.initial) {
      changed[field.name] = value;
    }
  }
  return changed;
}

/** The longest job name (mlops_magics/names.py JOB_NAME: lowercase letters, digits, '_' and '-'). */
const JOB_NAME_MAX = 63;

/** A job name to suggest for a notebook: its file name, lowercased, with what a name cannot hold as '-'. */
export function jobNameFromPath(path: string): string {
  const file = path.split('/').pop() ?? '';
  const name = file
    .replace(/\.ipynb$/i, '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, JOB_NAME_MAX)
    .replace(/-+$/, '');
  return name || 'job';
}
